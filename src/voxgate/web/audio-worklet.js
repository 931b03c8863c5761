// AudioWorklet processor: microphone samples at the context's rate -> PCM16 mono at the target rate.
//
// Runs on the audio rendering thread. Each 128-frame render quantum is mixed to mono, low-pass
// filtered when downsampling (windowed sinc, so 48 kHz speech does not alias into the 24 kHz
// band), resampled by linear interpolation with the fractional read position carried across
// quanta, converted to 16-bit integers and collected into batches of `batchMs`. Each full batch
// is posted to the main thread as {samples: Int16Array, rms: number} (rms of the batch, 0..1).
// Message "flush" posts what is collected so far; "stop" ends the processor.

const TAPS = 63;

function lowPassTaps(cutoff) {
  // cutoff in cycles per input sample (0 .. 0.5); Blackman-windowed sinc, unity gain at DC.
  const taps = new Float32Array(TAPS);
  const middle = (TAPS - 1) / 2;
  let sum = 0;
  for (let n = 0; n < TAPS; n++) {
    const x = n - middle;
    const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
    const window =
      0.42 - 0.5 * Math.cos((2 * Math.PI * n) / (TAPS - 1)) + 0.08 * Math.cos((4 * Math.PI * n) / (TAPS - 1));
    taps[n] = sinc * window;
    sum += taps[n];
  }
  for (let n = 0; n < TAPS; n++) taps[n] /= sum;
  return taps;
}

class Pcm16Capture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { targetRate = 24000, batchMs = 60 } = options.processorOptions || {};
    this.step = sampleRate / targetRate; // input samples per output sample
    this.taps = this.step > 1.0001 ? lowPassTaps(0.45 / this.step) : null;
    this.history = new Float32Array(TAPS - 1); // the filter's memory: the previous input samples
    this.position = 0; // where the next output sample lies, in input samples from this quantum's start
    this.previous = 0; // the last (filtered) input sample of the previous quantum, at position -1
    this.batchSize = Math.max(1, Math.round((targetRate * batchMs) / 1000));
    this.batch = new Int16Array(this.batchSize);
    this.filled = 0;
    this.energy = 0;
    this.running = true;
    this.port.onmessage = (message) => {
      if (message.data === "flush") this.post();
      if (message.data === "stop") {
        this.post();
        this.running = false;
      }
    };
  }

  post() {
    if (this.filled === 0) return;
    const samples = this.batch.slice(0, this.filled);
    const rms = Math.sqrt(this.energy / this.filled);
    this.port.postMessage({ samples, rms }, [samples.buffer]);
    this.filled = 0;
    this.energy = 0;
  }

  mono(channels, length) {
    if (channels.length === 1) return channels[0];
    const mixed = new Float32Array(length);
    for (const channel of channels) for (let i = 0; i < length; i++) mixed[i] += channel[i] / channels.length;
    return mixed;
  }

  filter(block) {
    if (!this.taps) return block;
    const joined = new Float32Array(this.history.length + block.length);
    joined.set(this.history);
    joined.set(block, this.history.length);
    const out = new Float32Array(block.length);
    for (let i = 0; i < block.length; i++) {
      let acc = 0;
      for (let k = 0; k < TAPS; k++) acc += this.taps[k] * joined[i + TAPS - 1 - k];
      out[i] = acc;
    }
    this.history = joined.slice(joined.length - this.history.length);
    return out;
  }

  emit(value) {
    const clamped = Math.max(-1, Math.min(1, value));
    this.batch[this.filled++] = clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff;
    this.energy += clamped * clamped;
    if (this.filled === this.batchSize) this.post();
  }

  process(inputs) {
    const channels = inputs[0];
    if (!this.running) return false;
    if (!channels || channels.length === 0) return true; // no source connected yet
    const length = channels[0].length;
    const block = this.filter(this.mono(channels, length));
    while (this.position <= length - 1) {
      const index = Math.floor(this.position);
      const fraction = this.position - index;
      const a = index < 0 ? this.previous : block[index];
      const b = block[index + 1] ?? a;
      this.emit(a + (b - a) * fraction);
      this.position += this.step;
    }
    this.position -= length;
    this.previous = block[length - 1];
    return true;
  }
}

registerProcessor("pcm16-capture", Pcm16Capture);
