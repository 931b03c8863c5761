// The voxgate dashboard: charts of GET /api/analytics (Chart.js, served by the gateway itself), recent
// sessions from GET /api/sessions, and a live view fed by GET /api/live (server-sent events, read with
// fetch so that the admin key can travel in the Authorization header, which EventSource cannot send).

const Chart = window.Chart;
Chart.defaults.animation = false; // charts are redrawn on every refresh; no motion, no half-drawn frames
Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif';
Chart.defaults.maintainAspectRatio = false;

const COLORS = {
  sessions: "#2d5bd7",
  calls: "#e07b39",
  input: "#7fa2f0",
  output: "#2d5bd7",
  cost: "#c93838",
  ok: "#1f9d55",
  latency: "#8a6bd1",
  channels: { web: "#2d5bd7", sdk: "#8a6bd1", phone: "#e07b39" },
};
const KEY_STORAGE = "voxgate-admin-key";
const REFRESH_MS = 30_000;

const $ = (id) => document.getElementById(id);
const state = {
  key: sessionStorage.getItem(KEY_STORAGE) || "",
  charts: {},
  live: new Map(), // session id -> {card, lines: Map(item id -> element)}
  selected: null,
};

class AuthNeeded extends Error {}

function headers() {
  return state.key ? { Authorization: `Bearer ${state.key}` } : {};
}

async function api(path) {
  const response = await fetch(path, { headers: headers() });
  if (response.status === 401 || response.status === 403) {
    const body = await response.json().catch(() => ({}));
    askForKey(body.detail || `HTTP ${response.status}`);
    throw new AuthNeeded();
  }
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(`${path}: ${body.detail ? JSON.stringify(body.detail) : `HTTP ${response.status}`}`);
  }
  return response.json();
}

function askForKey(reason) {
  $("key-message").textContent = `This gateway needs its admin key (${reason}).`;
  $("key-panel").hidden = false;
}

function showError(error) {
  if (error instanceof AuthNeeded) return;
  $("error").textContent = String(error.message || error);
  $("error").hidden = false;
}

// -- formatting ------------------------------------------------------------------------------------

const number = new Intl.NumberFormat("en");
const percent = (value) => (value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)}%`);
const usd = (value) => `$${Number(value || 0).toFixed(value >= 1 ? 2 : 4)}`;
function seconds(value) {
  if (value === null || value === undefined) return "—";
  if (value < 90) return `${value.toFixed(1)} s`;
  return `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
}
function localTime(iso) {
  return new Date(iso).toLocaleString("en-GB", { timeZone: tz(), dateStyle: "short", timeStyle: "medium" });
}
function tz() {
  return $("tz").value.trim() || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

// -- charts ----------------------------------------------------------------------------------------

function chart(id, config) {
  const existing = state.charts[id];
  if (existing) {
    existing.data = config.data;
    existing.options = config.options || {};
    existing.update();
    return existing;
  }
  const created = new Chart($(id), config);
  state.charts[id] = created;
  return created;
}

const bar = (label, data, color, extra = {}) => ({ type: "bar", label, data, backgroundColor: color, ...extra });

function drawCharts(a) {
  const days = a.per_day.map((d) => d.day.slice(5));
  chart("c-per-day", {
    type: "bar",
    data: {
      labels: days,
      datasets: [bar("Sessions", a.per_day.map((d) => d.sessions), COLORS.sessions),
                 bar("Phone calls", a.per_day.map((d) => d.calls), COLORS.calls)],
    },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
  chart("c-per-hour", {
    type: "bar",
    data: {
      labels: a.per_hour.map((h) => String(h.hour).padStart(2, "0")),
      datasets: [bar("Sessions", a.per_hour.map((h) => h.sessions), COLORS.sessions),
                 bar("Phone calls", a.per_hour.map((h) => h.calls), COLORS.calls)],
    },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
  chart("c-usage", {
    data: {
      labels: a.usage_per_day.map((d) => d.day.slice(5)),
      datasets: [
        bar("Input tokens", a.usage_per_day.map((d) => d.input_tokens), COLORS.input, { stack: "tokens" }),
        bar("Output tokens", a.usage_per_day.map((d) => d.output_tokens), COLORS.output, { stack: "tokens" }),
        { type: "line", label: "Cost (USD)", data: a.usage_per_day.map((d) => d.cost_usd),
          borderColor: COLORS.cost, backgroundColor: COLORS.cost, yAxisID: "cost", tension: 0.2 },
      ],
    },
    options: {
      scales: {
        x: { stacked: true },
        y: { stacked: true, beginAtZero: true, title: { display: true, text: "tokens" } },
        cost: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false },
                title: { display: true, text: "USD" } },
      },
    },
  });
  const channels = Object.keys(a.sessions.by_channel);
  chart("c-channels", {
    type: "doughnut",
    data: {
      labels: channels,
      datasets: [{ data: channels.map((c) => a.sessions.by_channel[c]),
                   backgroundColor: channels.map((c) => COLORS.channels[c] || "#999") }],
    },
    options: { plugins: { legend: { position: "right" } } },
  });
  chart("c-tools", {
    data: {
      labels: a.tools.map((t) => t.name),
      datasets: [
        bar("Success rate (%)", a.tools.map((t) => +(t.success_rate * 100).toFixed(1)), COLORS.ok),
        bar("p95 latency (ms)", a.tools.map((t) => t.p95_ms), COLORS.latency, { yAxisID: "ms" }),
      ],
    },
    options: {
      scales: {
        y: { beginAtZero: true, max: 100, title: { display: true, text: "%" } },
        ms: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false },
              title: { display: true, text: "ms" } },
      },
    },
  });
  const ranked = (id, rows, label, color) => chart(id, {
    type: "bar",
    data: { labels: rows.map((r) => r.name), datasets: [bar(label, rows.map((r) => r.count), color)] },
    options: { indexAxis: "y", plugins: { legend: { display: false } },
               scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
  ranked("c-services", a.top_services, "Appointments", COLORS.sessions);
  ranked("c-menu", a.top_menu_items, "Quantity ordered", COLORS.calls);
  const barge = Object.entries(a.barge_ins.distribution);
  chart("c-barge", {
    type: "bar",
    data: { labels: barge.map(([n]) => `${n}`), datasets: [bar("Calls", barge.map(([, count]) => count), COLORS.calls)] },
    options: { plugins: { legend: { display: false } },
               scales: { x: { title: { display: true, text: "barge-ins in the call" } },
                         y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
}

function drawTiles(a) {
  const set = (id, value, sub = "") => { $(id).textContent = value; $(`${id}-sub`).textContent = sub; };
  const channels = Object.entries(a.sessions.by_channel).map(([c, n]) => `${c} ${n}`).join(" · ");
  set("t-sessions", number.format(a.sessions.total), channels);
  set("t-calls", number.format(a.calls.total), `${a.calls.ended} ended`);
  set("t-duration", seconds(a.sessions.avg_duration_s),
      a.calls.avg_duration_s !== null ? `calls ${seconds(a.calls.avg_duration_s)}` : "");
  set("t-booked", percent(a.calls.appointment_conversion), `${a.calls.booked} of ${a.calls.total} calls`);
  set("t-ordered", percent(a.calls.order_conversion), `${a.calls.ordered} of ${a.calls.total} calls`);
  const calls = a.tools.reduce((n, t) => n + t.calls, 0);
  const ok = a.tools.reduce((n, t) => n + t.ok, 0);
  set("t-tools", calls ? percent(ok / calls) : "—", `${number.format(calls)} calls`);
  set("t-tokens", number.format(a.usage.input_tokens + a.usage.output_tokens),
      a.usage.per_session_tokens !== null ? `${number.format(Math.round(a.usage.per_session_tokens))} per session` : "");
  set("t-cost", usd(a.usage.cost_usd),
      a.usage.per_session_cost_usd !== null ? `${usd(a.usage.per_session_cost_usd)} per session` : "");
  set("t-barge", a.barge_ins.per_call === null ? "—" : a.barge_ins.per_call.toFixed(2),
      `${a.barge_ins.total} in ${a.barge_ins.calls} calls`);
}

// -- recent sessions and their detail --------------------------------------------------------------

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.append(td);
}

function drawRecent(page) {
  const body = $("recent").querySelector("tbody");
  body.replaceChildren();
  for (const s of page.items) {
    const row = document.createElement("tr");
    row.dataset.id = s.id;
    if (s.id === state.selected) row.classList.add("selected");
    cell(row, localTime(s.started_at));
    cell(row, s.channel);
    cell(row, s.agent);
    cell(row, s.caller || s.client_id || "");
    cell(row, s.status === "active" ? "active" : seconds(s.duration_s));
    cell(row, String(s.tool_call_count));
    cell(row, usd(s.cost_usd));
    cell(row, s.end_reason || "");
    row.addEventListener("click", () => showDetail(s.id).catch(showError));
    body.append(row);
  }
}

function line(role, text, extra) {
  const div = document.createElement("div");
  div.className = `line ${role}`;
  div.textContent = text;
  if (extra) {
    const span = document.createElement("span");
    span.className = "cut";
    span.textContent = extra;
    div.append(span);
  }
  return div;
}

function toolLine(call) {
  const div = line(`tool${call.ok ? "" : " failed"}`,
    `${call.name}(${JSON.stringify(call.arguments)}) ${call.ok ? "ok" : `failed: ${call.error || ""}`}` +
    ` · ${Number(call.duration_ms).toFixed(0)} ms`);
  return div;
}

async function showDetail(id) {
  state.selected = id;
  for (const row of $("recent").querySelectorAll("tbody tr")) row.classList.toggle("selected", row.dataset.id === id);
  const d = await api(`/api/sessions/${encodeURIComponent(id)}?events_limit=0`);
  $("detail-title").textContent = d.id;
  const body = $("detail-body");
  body.replaceChildren();
  const facts = document.createElement("dl");
  const fact = (name, value) => {
    const dt = document.createElement("dt"); dt.textContent = name;
    const dd = document.createElement("dd"); dd.textContent = value;
    facts.append(dt, dd);
  };
  fact("Channel / agent", `${d.channel} / ${d.agent}`);
  fact("Started", localTime(d.started_at));
  fact("Ended", d.ended_at ? `${localTime(d.ended_at)} (${d.end_reason})` : "active");
  fact("Events", `${d.events_total} stored · ${d.events_in} in, ${d.events_out} out`);
  fact("Tokens", `${number.format(d.usage_totals.input_tokens)} in, ${number.format(d.usage_totals.output_tokens)} out`);
  fact("Cost", usd(d.usage_totals.cost_usd));
  if (d.call) fact("Call", `${d.call.call_sid} · ${d.call.from_number || "?"} → ${d.call.to_number || "?"} · ${d.call.status} · ${d.call.outcome || ""}`);
  body.append(facts);
  const lines = document.createElement("div");
  lines.className = "lines";
  for (const t of d.transcript) {
    lines.append(line(t.role, t.text, t.truncated ? `interrupted at ${t.audio_end_ms} ms` : ""));
  }
  for (const call of d.tool_calls) lines.append(toolLine(call));
  body.append(lines);
  const link = document.createElement("button");
  link.type = "button";
  link.textContent = "Download the events (JSON lines)";
  link.addEventListener("click", () => download(id).catch(showError));
  body.append(link);
  $("detail").hidden = false;
}

async function download(id) {
  // fetch, not a plain link: the admin key travels in a header
  const response = await fetch(`/api/sessions/${encodeURIComponent(id)}/events.jsonl`, { headers: headers() });
  if (!response.ok) throw new Error(`events of ${id}: HTTP ${response.status}`);
  const url = URL.createObjectURL(await response.blob());
  const anchor = document.createElement("a");
  anchor.href = url;
  anchor.download = `${id}.events.jsonl`;
  anchor.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// -- the live view ---------------------------------------------------------------------------------

function liveCard(summary) {
  let entry = state.live.get(summary.session_id);
  if (entry) return entry;
  const card = document.createElement("article");
  card.className = "session-card";
  card.dataset.id = summary.session_id;
  const header = document.createElement("header");
  const badge = document.createElement("span");
  badge.className = `badge ${summary.channel}`;
  badge.textContent = summary.channel;
  const title = document.createElement("strong");
  title.textContent = `${summary.agent} · ${summary.caller || summary.client_id || ""}`;
  const id = document.createElement("span");
  id.className = "id";
  id.textContent = summary.session_id;
  const figures = document.createElement("span");
  figures.className = "figures";
  header.append(badge, title, id, figures);
  const lines = document.createElement("div");
  lines.className = "lines";
  card.append(header, lines);
  $("live-sessions").prepend(card);
  entry = { card, lines, figures, items: new Map() };
  state.live.set(summary.session_id, entry);
  updateFigures(entry, summary);
  updateLiveCount();
  return entry;
}

function updateFigures(entry, s) {
  entry.figures.textContent =
    `${number.format((s.input_tokens || 0) + (s.output_tokens || 0))} tokens · ${usd(s.cost_usd)}` +
    (s.tool_calls !== undefined ? ` · ${s.tool_calls} tools` : "");
}

function updateLiveCount() {
  const active = [...state.live.values()].filter((e) => !e.card.classList.contains("ended")).length;
  $("live-count").textContent = String(active);
  $("live-empty").hidden = state.live.size > 0;
}

function itemLine(entry, note) {
  let node = entry.items.get(note.item_id);
  if (!node) {
    node = line(note.role, "");
    node.dataset.item = note.item_id;
    entry.items.set(note.item_id, node);
    entry.lines.append(node);
  }
  return node;
}

function onNote(note) {
  if (note.kind === "session.started") {
    liveCard(note.session);
  } else if (note.kind === "session.ended") {
    const entry = state.live.get(note.session.session_id);
    if (entry) {
      entry.card.classList.add("ended");
      updateFigures(entry, note.session);
      setTimeout(() => { entry.card.remove(); state.live.delete(note.session.session_id); updateLiveCount(); }, 60_000);
      updateLiveCount();
    }
    scheduleRefresh();
  } else if (note.kind === "transcript.delta") {
    const entry = state.live.get(note.session_id);
    if (entry) {
      itemLine(entry, note).append(document.createTextNode(note.delta));
      entry.lines.scrollTop = entry.lines.scrollHeight;
    }
  } else if (note.kind === "transcript") {
    const entry = state.live.get(note.session_id);
    if (entry) {
      const node = itemLine(entry, note);
      node.className = `line ${note.role}`;
      node.textContent = note.text;
      if (note.truncated) {
        const cut = document.createElement("span");
        cut.className = "cut";
        cut.textContent = `interrupted at ${note.audio_end_ms} ms`;
        node.append(cut);
      }
      entry.lines.scrollTop = entry.lines.scrollHeight;
    }
  } else if (note.kind === "tool_call") {
    const entry = state.live.get(note.session_id);
    if (entry) {
      entry.lines.append(toolLine(note));
      entry.lines.scrollTop = entry.lines.scrollHeight;
    }
  } else if (note.kind === "usage") {
    const entry = state.live.get(note.session_id);
    if (entry) updateFigures(entry, note);
  }
}

function onSnapshot(snapshot) {
  for (const entry of state.live.values()) entry.card.remove();
  state.live.clear();
  for (const summary of snapshot.sessions) {
    const entry = liveCard(summary);
    for (const note of summary.recent || []) onNote(note);
    updateFigures(entry, summary);
  }
  updateLiveCount();
}

function liveStatus(kind, text) {
  $("live-status").dataset.state = kind;
  $("live-text").textContent = text;
  document.body.dataset.live = kind;
}

async function followLive() {
  for (;;) {
    try {
      const response = await fetch("/api/live", { headers: headers() });
      if (response.status === 401 || response.status === 403) {
        liveStatus("error", "admin key needed");
        askForKey(`HTTP ${response.status}`);
        return;
      }
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = "message";
          let data = "";
          for (const text of block.split("\n")) {
            if (text.startsWith("event: ")) event = text.slice(7);
            else if (text.startsWith("data: ")) data += text.slice(6);
          }
          if (!data) continue;
          const payload = JSON.parse(data);
          if (event === "snapshot") {
            onSnapshot(payload);
            liveStatus("connected", payload.recording ? "connected" : "connected (recording off)");
          } else {
            onNote(payload);
          }
        }
      }
      liveStatus("connecting", "reconnecting");
    } catch (error) {
      liveStatus("error", "disconnected");
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

// -- refresh ---------------------------------------------------------------------------------------

let refreshTimer = null;
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => refresh().catch(showError), 1500);
}

async function refresh() {
  const query = new URLSearchParams({ days: $("days").value, tz: tz() });
  const [analytics, recent] = await Promise.all([
    api(`/api/analytics?${query}`),
    api(`/api/sessions?limit=20&tz=${encodeURIComponent(tz())}`),
  ]);
  $("error").hidden = true;
  drawTiles(analytics);
  drawCharts(analytics);
  drawRecent(recent);
  document.body.dataset.ready = "1";
}

function start() {
  $("tz").value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  $("window-form").addEventListener("submit", (event) => { event.preventDefault(); refresh().catch(showError); });
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.key = $("admin-key").value.trim();
    sessionStorage.setItem(KEY_STORAGE, state.key);
    $("key-panel").hidden = true;
    refresh().catch(showError);
    followLive();
  });
  refresh().catch(showError);
  followLive();
  setInterval(() => refresh().catch(showError), REFRESH_MS);
}

start();
