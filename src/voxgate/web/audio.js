// Audio for the test client: PCM16 <-> base64, the microphone (AudioWorklet capture) and the
// player (a gap-free queue of scheduled buffers that knows how much of each item was played).

export const PCM_RATE = 24000;

// -- PCM16 little-endian <-> base64 ------------------------------------------------------------

export function pcm16ToBase64(samples) {
  const bytes = new Uint8Array(samples.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < samples.length; i++) view.setInt16(i * 2, samples[i], true);
  let binary = "";
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) binary += String.fromCharCode(...bytes.subarray(i, i + step));
  return btoa(binary);
}

export function base64ToFloat32(base64) {
  const binary = atob(base64);
  const count = binary.length >> 1;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    let value = binary.charCodeAt(2 * i) | (binary.charCodeAt(2 * i + 1) << 8);
    if (value >= 0x8000) value -= 0x10000;
    out[i] = value / 0x8000;
  }
  return out;
}

// -- microphone --------------------------------------------------------------------------------

// Captures the default microphone through an AudioWorklet and calls onChunk(Int16Array, rms) with
// PCM16 mono at `rate` in batches of `batchMs`, whatever rate the AudioContext runs at.
export class Microphone {
  constructor(context, { rate = PCM_RATE, batchMs = 60, echoCancellation = true, onChunk }) {
    this.context = context;
    this.options = { rate, batchMs, echoCancellation };
    this.onChunk = onChunk;
    this.stream = null;
    this.source = null;
    this.node = null;
  }

  get active() {
    return this.node !== null;
  }

  async start() {
    if (!Microphone.loaded.has(this.context)) {
      await this.context.audioWorklet.addModule(new URL("./audio-worklet.js", import.meta.url));
      Microphone.loaded.add(this.context);
    }
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: {
        channelCount: 1,
        echoCancellation: this.options.echoCancellation,
        noiseSuppression: false,
        autoGainControl: false,
      },
    });
    this.source = this.context.createMediaStreamSource(this.stream);
    this.node = new AudioWorkletNode(this.context, "pcm16-capture", {
      numberOfInputs: 1,
      numberOfOutputs: 0,
      channelCount: 1,
      channelCountMode: "explicit",
      processorOptions: { targetRate: this.options.rate, batchMs: this.options.batchMs },
    });
    this.node.port.onmessage = (message) => this.onChunk(message.data.samples, message.data.rms);
    this.source.connect(this.node);
  }

  stop() {
    if (this.node) {
      this.node.port.postMessage("stop");
      this.source.disconnect();
      this.node = null;
    }
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
    this.source = null;
  }
}
Microphone.loaded = new WeakSet();

// -- playback ----------------------------------------------------------------------------------

// Plays audio deltas back to back on the context's clock. Each chunk is an AudioBuffer at the
// stream's rate started exactly when the previous one ends (or a little ahead of "now" after an
// underrun), so consecutive deltas join without gaps. The player remembers, per assistant item,
// how much audio arrived and how much of it has been heard, for conversation.item.truncate.
export class Player {
  constructor(context, { rate = PCM_RATE, leadSeconds = 0.06 } = {}) {
    this.context = context;
    this.rate = rate;
    this.lead = leadSeconds;
    this.output = context.createGain();
    this.output.connect(context.destination);
    this.chunks = []; // scheduled, not yet fully heard: {itemId, start, end, ms, source}
    this.items = new Map(); // itemId -> {receivedMs, heardMs}
    this.refused = new Set(); // items cut off by barge-in: later deltas of them are dropped
    this.nextStart = 0;
    this.scheduledSamples = 0;
    this.heardMs = 0; // of chunks no longer in `chunks`
  }

  // The audio clock as heard: the render position minus the output device's latency.
  clock() {
    return Math.max(0, this.context.currentTime - (this.context.outputLatency || 0));
  }

  item(itemId) {
    let record = this.items.get(itemId);
    if (!record) {
      record = { receivedMs: 0, heardMs: 0 };
      this.items.set(itemId, record);
      if (this.items.size > 64) this.items.delete(this.items.keys().next().value);
    }
    return record;
  }

  // Schedules one delta; returns false when the item was interrupted and the delta is dropped.
  enqueue(itemId, samples) {
    if (this.refused.has(itemId) || samples.length === 0) return false;
    const buffer = this.context.createBuffer(1, samples.length, this.rate);
    buffer.copyToChannel(samples, 0);
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.output);
    const start = Math.max(this.nextStart, this.context.currentTime + this.lead);
    source.start(start);
    const seconds = samples.length / this.rate;
    this.nextStart = start + seconds;
    this.chunks.push({ itemId, start, end: start + seconds, ms: seconds * 1000, source });
    source.onended = () => source.disconnect();
    this.item(itemId).receivedMs += seconds * 1000;
    this.scheduledSamples += samples.length;
    return true;
  }

  settle(now) {
    while (this.chunks.length > 0 && this.chunks[0].end <= now) {
      const chunk = this.chunks.shift();
      this.heardMs += chunk.ms;
      this.item(chunk.itemId).heardMs += chunk.ms;
    }
  }

  get playing() {
    return this.nextStart > this.context.currentTime;
  }

  // The item being heard now (or the next one queued, in the short lead before it starts).
  get currentItemId() {
    const now = this.clock();
    this.settle(now);
    return this.chunks.length > 0 ? this.chunks[0].itemId : null;
  }

  heardMsOf(itemId) {
    const now = this.clock();
    this.settle(now);
    const record = this.items.get(itemId);
    if (!record) return 0;
    let ms = record.heardMs;
    for (const chunk of this.chunks) {
      if (chunk.itemId === itemId) ms += Math.min(chunk.ms, Math.max(0, (now - chunk.start) * 1000));
    }
    return Math.min(ms, record.receivedMs);
  }

  get playedMs() {
    const now = this.clock();
    this.settle(now);
    let ms = this.heardMs;
    for (const chunk of this.chunks) ms += Math.min(chunk.ms, Math.max(0, (now - chunk.start) * 1000));
    return ms;
  }

  // Barge-in: silence everything at once. Returns {itemId, audioEndMs} for the item that was being
  // heard (audioEndMs = whole milliseconds heard, never more than was received), or null.
  interrupt() {
    const itemId = this.currentItemId;
    const result = itemId === null ? null : { itemId, audioEndMs: Math.floor(this.heardMsOf(itemId)) };
    this.stop();
    if (itemId !== null) this.refused.add(itemId);
    return result;
  }

  stop() {
    const now = this.clock();
    for (const chunk of this.chunks) {
      const heard = Math.min(chunk.ms, Math.max(0, (now - chunk.start) * 1000));
      this.heardMs += heard;
      this.item(chunk.itemId).heardMs += heard;
      try {
        chunk.source.stop();
      } catch {
        // not started yet in some engines: disconnecting is enough
      }
      chunk.source.disconnect();
    }
    this.chunks = [];
    this.nextStart = 0;
  }
}
