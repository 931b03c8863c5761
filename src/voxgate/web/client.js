// The voxgate browser test client: one WebSocket to /openai/realtime/{client_id}?agent=NAME,
// microphone in, scheduled playback out, a live transcript, tool calls and every event both ways.
//
// For tests, window.voxgate is a read-only view of the page's state (see `debugView` below).

import { Microphone, PCM_RATE, Player, base64ToFloat32, pcm16ToBase64 } from "./audio.js";

const $ = (id) => document.getElementById(id);

const LOG_LIMIT = 5000; // events kept in memory
const LOG_ROWS = 800; // rows shown at most
const AUDIO_EVENTS = new Set([
  "input_audio_buffer.append",
  "response.output_audio.delta",
  "response.audio.delta", // beta name
]);

const state = {
  ws: null,
  connection: "disconnected", // disconnected | connecting | connected
  upstream: "none", // none | connected | unavailable
  clientId: null,
  sessionId: null,
  agent: null,
  session: null, // the last session.updated (or session.created) config
  context: null,
  player: null,
  mic: null,
  micSamplesSent: 0,
  events: [], // {seq, at, dir: "in"|"out", type, event} with audio payloads abbreviated
  seq: 0,
  truncations: [], // {itemId, audioEndMs, receivedMs}
  lastToken: null,
  lastError: null,
  pendingCalls: [], // arguments of the function_call messages not answered yet, oldest first
};

// -- helpers -----------------------------------------------------------------------------------

function randomHex(bytes) {
  const values = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(values, (b) => b.toString(16).padStart(2, "0")).join("");
}

function clockTime(date = new Date()) {
  return date.toTimeString().slice(0, 8) + "." + String(date.getMilliseconds()).padStart(3, "0");
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function pretty(value) {
  if (typeof value === "string") {
    try {
      return JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      return value;
    }
  }
  return JSON.stringify(value, null, 2);
}

function base64Bytes(text) {
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  return Math.floor((text.length * 3) / 4) - padding;
}

// A copy of the event with audio payloads (an `audio` field anywhere, the `delta` of an audio delta)
// replaced by their size, for the log.
function abbreviate(event) {
  const short = (value) => `‹${base64Bytes(value)} bytes of audio›`;
  const walk = (value, depth) => {
    if (depth > 6 || value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) return value.map((part) => walk(part, depth + 1));
    const copy = {};
    for (const [key, field] of Object.entries(value)) {
      const isAudio = key === "audio" && typeof field === "string" && field.length > 64;
      copy[key] = isAudio ? short(field) : walk(field, depth + 1);
    }
    return copy;
  };
  const copy = walk(event, 0);
  if (AUDIO_EVENTS.has(event.type) && typeof event.delta === "string") copy.delta = short(event.delta);
  return copy;
}

// -- status ------------------------------------------------------------------------------------

function setConnection(value, text) {
  state.connection = value;
  $("connection-status").dataset.state = value;
  $("connection-text").textContent = text || value;
  const connected = value === "connected";
  $("connect").disabled = value !== "disconnected";
  $("disconnect").disabled = value === "disconnected";
  for (const id of ["send", "mic", "get-token", "call-function"]) $(id).disabled = !connected;
  for (const id of ["client-id", "agent", "client-key"]) $(id).disabled = value !== "disconnected";
  $("show-session").disabled = state.session === null;
}

function setUpstream(value, text) {
  state.upstream = value;
  $("upstream-status").dataset.state = value;
  $("upstream-text").textContent = text;
}

function refreshAudioStatus() {
  const listening = state.mic?.active;
  const playing = state.player?.playing;
  const parts = [listening ? "listening" : null, playing ? "agent speaking" : null];
  const status = parts.filter(Boolean).join(", ") || "idle";
  const pill = $("audio-status");
  pill.dataset.state = listening ? "listening" : playing ? "playing" : "idle";
  if ($("audio-text").textContent !== status) $("audio-text").textContent = status;
  $("stop-audio").disabled = !playing;
}
setInterval(refreshAudioStatus, 200);

function showAlert(text) {
  $("alert-text").textContent = text;
  $("alert").hidden = !text;
}

function showOutput(title, value) {
  $("test-output").textContent = `${title}\n${typeof value === "string" ? value : pretty(value)}`;
}

// -- event log ---------------------------------------------------------------------------------

function logEvent(dir, event) {
  const entry = Object.freeze({
    seq: ++state.seq,
    at: Date.now(),
    dir,
    type: String(event.type ?? "?"),
    event: Object.freeze(abbreviate(event)),
  });
  state.events.push(entry);
  if (state.events.length > LOG_LIMIT) state.events.splice(0, state.events.length - LOG_LIMIT);
  if (matchesFilter(entry)) {
    const list = $("event-log");
    list.prepend(logRow(entry));
    while (list.childElementCount > LOG_ROWS) list.lastElementChild.remove();
  }
  updateCount();
}

function matchesFilter(entry) {
  const direction = $("event-direction").value;
  if (direction !== "all" && direction !== entry.dir) return false;
  if (!$("show-audio").checked && AUDIO_EVENTS.has(entry.type)) return false;
  const text = $("event-filter").value.trim().toLowerCase();
  return text === "" || entry.type.toLowerCase().includes(text);
}

function brief(event) {
  const parts = [];
  for (const key of ["delta", "transcript", "name", "audio_end_ms", "call_id", "item_id", "message"]) {
    const value = event[key];
    if (typeof value === "string" || typeof value === "number") parts.push(`${key}=${JSON.stringify(value)}`);
  }
  if (event.item?.type) parts.push(`item=${event.item.type}${event.item.role ? "/" + event.item.role : ""}`);
  if (event.error?.code) parts.push(`code=${event.error.code}`);
  return parts.join(" ").slice(0, 160);
}

function logRow(entry) {
  const row = element("li");
  row.dataset.dir = entry.dir;
  row.dataset.type = entry.type;
  const details = element("details");
  const summary = element("summary");
  summary.append(
    element("span", "time", clockTime(new Date(entry.at))),
    element("span", "dir", entry.dir === "in" ? "←" : "→"),
    element("span", "type", entry.type),
    element("span", "brief", brief(entry.event)),
  );
  summary.setAttribute("aria-label", `${entry.dir === "in" ? "received" : "sent"} ${entry.type}`);
  const body = element("pre");
  body.textContent = JSON.stringify(entry.event, null, 2);
  details.append(summary, body);
  row.append(details);
  return row;
}

function renderLog() {
  const list = $("event-log");
  const rows = [];
  for (let i = state.events.length - 1; i >= 0 && rows.length < LOG_ROWS; i--) {
    if (matchesFilter(state.events[i])) rows.push(logRow(state.events[i]));
  }
  list.replaceChildren(...rows);
  updateCount();
}

function updateCount() {
  $("event-count").textContent = `(${$("event-log").childElementCount} shown of ${state.events.length})`;
}

// -- transcript --------------------------------------------------------------------------------

const turns = new Map(); // item id -> <li>

function turn(itemId, role, { pending = false } = {}) {
  let row = turns.get(itemId);
  if (!row) {
    row = element("li", `turn ${role}${pending ? " pending" : ""}`);
    row.dataset.itemId = itemId;
    row.append(
      element("span", "who", role === "user" ? "You" : "Agent"),
      element("span", "text", pending ? "…" : ""),
    );
    $("transcript").append(row);
    turns.set(itemId, row);
  }
  return row;
}

// Keep the newest turn in view, unless the reader scrolled up to read earlier ones.
function followTranscript(update) {
  const list = $("transcript");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  update();
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function appendText(itemId, role, delta) {
  followTranscript(() => {
    const row = turn(itemId, role);
    const text = row.querySelector(".text");
    if (row.classList.contains("pending")) {
      row.classList.remove("pending");
      text.textContent = "";
    }
    text.textContent += delta;
  });
}

function setText(itemId, role, value) {
  followTranscript(() => {
    const row = turn(itemId, role);
    row.classList.remove("pending");
    row.querySelector(".text").textContent = value;
  });
}

// -- tool calls --------------------------------------------------------------------------------

const tools = new Map(); // call id -> {row, args}
const toolItems = new Map(); // function_call item id -> call id

function toolRow(callId, name, origin) {
  let tool = tools.get(callId);
  if (!tool) {
    const row = element("li", "tool");
    row.dataset.callId = callId;
    row.dataset.status = "running";
    const head = element("div", "head");
    head.append(
      element("span", "name", name || "…"),
      element("span", "meta", origin),
      element("span", "status", "running…"),
    );
    const args = element("pre", "arguments");
    args.setAttribute("aria-label", "arguments");
    const result = element("details", "result");
    result.hidden = true;
    result.append(element("summary", "", "result"), element("pre"));
    row.append(head, args, result);
    $("tool-calls").prepend(row);
    $("no-tools").hidden = true;
    tool = { row, args: "" };
    tools.set(callId, tool);
  }
  if (name) tool.row.querySelector(".name").textContent = name;
  return tool;
}

function setToolArguments(tool, argumentsText) {
  tool.args = argumentsText;
  tool.row.querySelector(".arguments").textContent = `arguments: ${pretty(argumentsText || "{}")}`;
}

function setToolResult(tool, output) {
  let value = output;
  if (typeof output === "string") {
    try {
      value = JSON.parse(output);
    } catch {
      value = output;
    }
  }
  const failed = value && typeof value === "object" && "error" in value;
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  tool.row.dataset.status = failed ? "error" : "done";
  tool.row.querySelector(".status").textContent = failed ? "error" : "done";
  const result = tool.row.querySelector(".result");
  result.hidden = false;
  const items = Array.isArray(value?.items) ? `, ${value.items.length} items` : "";
  result.querySelector("summary").textContent = `result (${text.length} chars${items})`;
  result.querySelector("pre").textContent = text;
  result.open = text.length < 400;
}

// -- the WebSocket -----------------------------------------------------------------------------

function send(event) {
  const ws = state.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN) {
    showAlert("Not connected.");
    return false;
  }
  ws.send(JSON.stringify(event));
  logEvent("out", event);
  return true;
}

function audioContext() {
  if (!state.context) {
    state.context = new AudioContext({ latencyHint: "interactive" });
    state.player = new Player(state.context, { rate: PCM_RATE });
  }
  state.context.resume();
  return state.context;
}

function connect() {
  const clientId = $("client-id").value.trim();
  if (!clientId) {
    showAlert("A client id is needed.");
    return;
  }
  audioContext(); // created inside the click, so playback is allowed to start
  const url = new URL(`realtime/${encodeURIComponent(clientId)}`, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.search = "";
  if ($("agent").value) url.searchParams.set("agent", $("agent").value);
  const protocols = ["realtime"];
  const key = $("client-key").value.trim();
  if (key) protocols.push(`openai-insecure-api-key.${key}`);
  showAlert("");
  let ws;
  try {
    ws = new WebSocket(url, protocols);
  } catch (error) {
    showAlert(`Cannot connect: ${error.message}`);
    return;
  }
  state.ws = ws;
  state.clientId = clientId;
  let established = false;
  let erred = false;
  setConnection("connecting", "connecting…");
  ws.onopen = () => setConnection("connecting", "waiting for the session…");
  ws.onmessage = (message) => {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      logEvent("in", { type: "(not JSON)", data: String(message.data).slice(0, 200) });
      return;
    }
    logEvent("in", event);
    if (event.type === "connection_established") established = true;
    if (event.type === "error") erred = true;
    handle(event);
  };
  ws.onclose = (close) => {
    if (state.ws !== ws) return;
    state.ws = null;
    stopMicrophone();
    state.player?.stop();
    const reason = close.reason ? ` ${close.reason}` : "";
    if (!established && !erred) {
      // A refused handshake leaves the browser nothing but code 1006.
      showAlert(
        `The connection closed before the session started (code ${close.code}${reason}). ` +
          "Is the gateway running, and does it need a client key?",
      );
    }
    setConnection("disconnected", `disconnected (${close.code}${reason})`);
    setUpstream("none", "—");
    refreshAudioStatus();
  };
}

function disconnect() {
  stopMicrophone();
  state.player?.stop();
  state.ws?.close(1000, "client disconnected");
}

// -- server events -----------------------------------------------------------------------------

function handle(event) {
  switch (event.type) {
    case "connection_established":
      state.sessionId = event.session_id;
      state.agent = event.agent;
      setConnection("connected", `connected as ${event.client_id}`);
      setUpstream(
        event.openai_connected ? "connected" : "unavailable",
        event.openai_connected ? `${event.backend} · ${event.model}` : "not connected",
      );
      break;
    case "voxgate.upstream.reconnected":
      setUpstream("connected", `reconnected after ${event.attempts} attempt(s)`);
      break;
    case "session.created":
    case "session.updated": {
      state.session = event.session;
      $("show-session").disabled = false;
      const formats = [event.session?.audio?.input?.format, event.session?.audio?.output?.format];
      if (formats.some((format) => format && (format.type !== "audio/pcm" || (format.rate ?? PCM_RATE) !== PCM_RATE))) {
        showAlert("This page speaks PCM16 at 24 kHz (audio/pcm); the session now uses another audio format.");
      }
      break;
    }
    case "error":
      onError(event);
      break;
    case "token":
      state.lastToken = { value: event.value, expires_at: event.expires_at };
      showOutput("Ephemeral token", {
        value: event.value,
        expires_at: event.expires_at,
        expires: event.expires_at ? new Date(event.expires_at * 1000).toISOString() : null,
      });
      break;
    case "function_call_result": {
      const tool = toolRow(`client_${randomHex(6)}`, event.function_name, "called from this page");
      setToolArguments(tool, state.pendingCalls.shift() || "{}");
      setToolResult(tool, event.result);
      showOutput(`function_call_result: ${event.function_name}`, event.result);
      break;
    }
    case "input_audio_buffer.speech_started":
      bargeIn();
      break;
    case "conversation.item.added":
    case "conversation.item.created": // beta name, harmless here
    case "response.output_item.added":
      onItem(event.item);
      break;
    case "conversation.item.input_audio_transcription.delta":
      if (event.delta) appendText(event.item_id, "user", event.delta);
      break;
    case "conversation.item.input_audio_transcription.completed":
      setText(event.item_id, "user", event.transcript || "(no words)");
      break;
    case "conversation.item.input_audio_transcription.failed":
      setText(event.item_id, "user", "(transcription failed)");
      break;
    case "response.output_audio_transcript.delta":
    case "response.output_text.delta":
      appendText(event.item_id, "assistant", event.delta);
      break;
    case "response.output_audio_transcript.done":
      if (event.transcript) setText(event.item_id, "assistant", event.transcript);
      break;
    case "response.output_text.done":
      if (event.text) setText(event.item_id, "assistant", event.text);
      break;
    case "response.output_audio.delta":
      state.player.enqueue(event.item_id, base64ToFloat32(event.delta));
      refreshAudioStatus();
      break;
    case "response.function_call_arguments.delta": {
      const callId = toolItems.get(event.item_id) || event.call_id;
      if (callId) {
        const tool = toolRow(callId, null, "called by the model");
        setToolArguments(tool, tool.args + event.delta);
      }
      break;
    }
    case "response.function_call_arguments.done": {
      toolItems.set(event.item_id, event.call_id);
      setToolArguments(toolRow(event.call_id, event.name, "called by the model"), event.arguments);
      break;
    }
    case "conversation.item.truncated":
      turns.get(event.item_id)?.classList.add("interrupted");
      break;
    default:
      break;
  }
}

function onItem(item) {
  if (!item || !item.id) return;
  if (item.type === "message" && (item.role === "user" || item.role === "assistant")) {
    if (turns.has(item.id)) return;
    const text = (item.content || []).map((part) => (typeof part.text === "string" ? part.text : "")).join("");
    if (text) setText(item.id, item.role, text);
    else followTranscript(() => turn(item.id, item.role, { pending: true }));
  } else if (item.type === "function_call") {
    toolItems.set(item.id, item.call_id);
    const tool = toolRow(item.call_id, item.name, "called by the model");
    if (item.arguments) setToolArguments(tool, item.arguments);
  } else if (item.type === "function_call_output") {
    setToolResult(toolRow(item.call_id, null, "called by the model"), item.output);
  }
}

function onError(event) {
  const error = event.error || {};
  state.lastError = error;
  if (error.code === "upstream_unavailable") setUpstream("unavailable", "unavailable");
  showAlert(`${error.code || error.type || "error"}: ${error.message || "(no message)"}`);
}

// Server VAD heard the user: if the agent is being heard, silence it now and tell the server how
// much of its audio was actually played, so the conversation keeps only what the user heard.
function bargeIn() {
  const player = state.player;
  if (!player || !player.playing) return;
  const cut = player.interrupt();
  refreshAudioStatus();
  if (!cut) return;
  const receivedMs = player.items.get(cut.itemId)?.receivedMs ?? 0;
  state.truncations.push(Object.freeze({ itemId: cut.itemId, audioEndMs: cut.audioEndMs, receivedMs }));
  turns.get(cut.itemId)?.classList.add("interrupted");
  send({ type: "conversation.item.truncate", item_id: cut.itemId, content_index: 0, audio_end_ms: cut.audioEndMs });
}

// -- microphone --------------------------------------------------------------------------------

async function startMicrophone() {
  const context = audioContext();
  const mic = new Microphone(context, {
    rate: PCM_RATE,
    batchMs: 60,
    echoCancellation: $("echo-cancellation").checked,
    onChunk: (samples, rms) => {
      $("mic-level").value = Math.min(1, rms * 4);
      if (state.connection !== "connected") return;
      if (send({ type: "input_audio_buffer.append", audio: pcm16ToBase64(samples) })) {
        state.micSamplesSent += samples.length;
      }
    },
  });
  state.mic = mic;
  setMicButton(true);
  try {
    await mic.start();
  } catch (error) {
    stopMicrophone();
    showAlert(`Microphone unavailable: ${error.message}`);
  }
  refreshAudioStatus();
}

function stopMicrophone() {
  state.mic?.stop();
  state.mic = null;
  $("mic-level").value = 0;
  setMicButton(false);
  refreshAudioStatus();
}

function setMicButton(on) {
  const button = $("mic");
  button.setAttribute("aria-pressed", String(on));
  button.textContent = on ? "Stop microphone" : "Start microphone";
}

// -- controls ----------------------------------------------------------------------------------

function sendText(text) {
  bargeIn(); // typing over the agent interrupts it, as speaking does
  const id = `msg_${randomHex(12)}`;
  const sent = send({
    type: "conversation.item.create",
    item: { id, type: "message", role: "user", content: [{ type: "input_text", text }] },
  });
  if (!sent) return;
  setText(id, "user", text);
  send({ type: "response.create" });
}

function callFunction() {
  let args;
  try {
    args = JSON.parse($("function-arguments").value || "{}");
  } catch (error) {
    showOutput("Arguments are not valid JSON", error.message);
    return;
  }
  if (send({ type: "function_call", function_name: $("function-name").value.trim(), arguments: args })) {
    state.pendingCalls.push(JSON.stringify(args));
  }
}

async function loadAgents() {
  const select = $("agent");
  const wanted = new URLSearchParams(location.search).get("agent");
  try {
    const response = await fetch(new URL("agents", location.href));
    const data = await response.json();
    select.replaceChildren(...data.agents.map((agent) => new Option(`${agent.title} — ${agent.name}`, agent.name)));
    if (wanted && data.agents.some((agent) => agent.name === wanted)) select.value = wanted;
  } catch (error) {
    select.replaceChildren(new Option("(server default)", ""));
    showAlert(`Could not load the agent list: ${error.message}`);
  }
}

function init() {
  const params = new URLSearchParams(location.search);
  $("client-id").value = params.get("client_id") || `browser-${randomHex(3)}`;
  loadAgents();
  setConnection("disconnected", "disconnected");

  $("connect-form").addEventListener("submit", (event) => {
    event.preventDefault();
    connect();
  });
  $("disconnect").addEventListener("click", disconnect);
  $("dismiss-alert").addEventListener("click", () => showAlert(""));
  $("text-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("message").value.trim();
    if (!text) return;
    sendText(text);
    $("message").value = "";
  });
  $("mic").addEventListener("click", () => (state.mic ? stopMicrophone() : startMicrophone()));
  $("stop-audio").addEventListener("click", () => {
    const player = state.player;
    if (player?.playing) bargeIn();
  });
  $("get-token").addEventListener("click", () => send({ type: "get_token" }));
  $("call-form").addEventListener("submit", (event) => {
    event.preventDefault();
    callFunction();
  });
  $("show-session").addEventListener("click", () => {
    const button = $("show-session");
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    button.textContent = open ? "Hide session" : "Show session";
    if (open) showOutput("Session (last session.updated)", state.session);
    else $("test-output").textContent = "";
  });
  for (const id of ["event-filter", "event-direction", "show-audio"]) $(id).addEventListener("input", renderLog);
  $("clear-log").addEventListener("click", () => {
    state.events = [];
    renderLog();
  });
}

// -- the read-only debug view for tests ----------------------------------------------------------

const debugView = Object.freeze({
  get state() {
    return state.connection;
  },
  get upstream() {
    return state.upstream;
  },
  get clientId() {
    return state.clientId;
  },
  get sessionId() {
    return state.sessionId;
  },
  get session() {
    return state.session;
  },
  get events() {
    return state.events.slice();
  },
  get scheduledSamples() {
    return state.player ? state.player.scheduledSamples : 0;
  },
  get playedMs() {
    return state.player ? state.player.playedMs : 0;
  },
  get playing() {
    return Boolean(state.player?.playing);
  },
  get truncations() {
    return state.truncations.slice();
  },
  // Per assistant item: milliseconds of its audio received and heard so far.
  get items() {
    const player = state.player;
    if (!player) return {};
    const items = {};
    for (const [itemId, record] of player.items) {
      items[itemId] = { receivedMs: record.receivedMs, heardMs: player.heardMsOf(itemId) };
    }
    return items;
  },
  get micSamplesSent() {
    return state.micSamplesSent;
  },
  get micActive() {
    return Boolean(state.mic?.active);
  },
  get contextSampleRate() {
    return state.context ? state.context.sampleRate : null;
  },
  get lastToken() {
    return state.lastToken;
  },
  get lastError() {
    return state.lastError;
  },
});
Object.defineProperty(window, "voxgate", { value: debugView, writable: false, configurable: false });

init();
