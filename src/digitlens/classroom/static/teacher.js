// The teacher's dashboard: loads the lesson's state once, then follows server-sent events
// (a drawing stored or removed, the prompt or pause changed). The token comes from the URL
// and goes with every request; the page only draws what the server counted.
import { pct as share, t, translatePage } from "/explorer/js/i18n.js";

/** @type {(id: string) => any} the page's elements by id (inputs, canvases, buttons alike) */
const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get("token") || "";
const q = `token=${encodeURIComponent(token)}`;
const GALLERY = 8, HARDEST = 24, SURE = 0.6;
/** @type {Record<string, any>} read by the tests as window.classroom */
const state = window.classroom = { ready: false, n: 0, confusion: null, drawings: new Map(),
                                   events: 0, settings: { prompt: null, paused: false } };

async function api(path, options = {}) {
  const r = await fetch(`/api/class/${path}${path.includes("?") ? "&" : "?"}${q}`, options);
  const j = await r.json();
  if (!j.ok) throw new Error(j.error);
  return j;
}
const post = (path, body) => api(path, { method: "POST", body: JSON.stringify(body),
                                         headers: { "Content-Type": "application/json" } });
const pct = (x) => (x === null || x === undefined ? "–" : share(x, 1));

function thumb(d, withRemove) {
  const fig = document.createElement("figure");
  fig.className = "thumb" + (d.prediction === d.label ? " right" : " wrong");
  fig.dataset.testid = `drawing-${d.id}`;
  const c = document.createElement("canvas"); c.width = c.height = 28;
  const bytes = Uint8Array.from(atob(d.pixels), (ch) => ch.charCodeAt(0));
  const img = c.getContext("2d").createImageData(28, 28);
  for (let i = 0; i < 784; i++) img.data.set([bytes[i], bytes[i], bytes[i], 255], 4 * i);
  c.getContext("2d").putImageData(img, 0, 0);
  const cap = document.createElement("figcaption");
  cap.textContent = d.prediction === d.label ? `${d.label} ✓ ${share(d.confidence)}`
                                             : `${d.label}→${d.prediction}`;
  cap.title = t("teacher.capTitle", { device: d.device, label: d.label, prediction: d.prediction, p: share(d.confidence) });
  fig.append(c, cap);
  if (withRemove) {
    const x = document.createElement("button");
    x.type = "button"; x.className = "remove"; x.textContent = "×"; x.title = t("teacher.removeTitle"); x.setAttribute("aria-label", t("teacher.removeAria"));
    x.dataset.testid = `remove-${d.id}`;
    x.addEventListener("click", () => api(`drawings/${d.id}`, { method: "DELETE" }).catch(alert));
    fig.append(x);
  }
  return fig;
}

function renderMatrix() {
  const cm = state.confusion, table = $("matrix");
  const max = Math.max(1, ...cm.flat());
  const head = document.createElement("tr");
  head.append(Object.assign(document.createElement("th"), { textContent: t("teacher.corner"), className: "corner" }));
  for (let c = 0; c < 10; c++) head.append(Object.assign(document.createElement("th"), { textContent: c }));
  const rows = cm.map((row, r) => {
    const tr = document.createElement("tr");
    tr.append(Object.assign(document.createElement("th"), { textContent: r }));
    row.forEach((v, c) => {
      const td = document.createElement("td");
      td.dataset.testid = `cm-${r}-${c}`; td.textContent = v || "";
      const a = v / max;
      // the UI colours of colors.css (linked by the page), through CSSOM as the CSP allows
      td.style.background = r === c ? `rgba(var(--good-rgb), ${0.08 + 0.7 * a})` : v ? `rgba(var(--wrong-rgb), ${0.15 + 0.7 * a})` : "";
      if (a > 0.55) td.style.color = "var(--white)";
      tr.append(td);
    });
    return tr;
  });
  table.replaceChildren(head, ...rows);
}

function render() {
  const all = [...state.drawings.values()].sort((a, b) => b.id - a.id);
  $("count").textContent = state.n;
  $("devices").textContent = state.devices;
  const right = state.confusion.reduce((s, row, i) => s + row[i], 0);
  $("class-accuracy").textContent = state.n ? pct(right / state.n) : "–";
  renderMatrix();
  const hard = all.filter((d) => d.prediction !== d.label || d.p_label < SURE).slice(0, HARDEST);
  $("hardest").replaceChildren(...(hard.length ? hard.map((d) => thumb(d, true))
    : [Object.assign(document.createElement("p"), { className: "muted", textContent: t("teacher.noneHard") })]));
  $("gallery").replaceChildren(...Array.from({ length: 10 }, (_, digit) => {
    const row = document.createElement("div"); row.className = "gallery-row";
    row.dataset.testid = `gallery-${digit}`;
    const mine = all.filter((d) => d.label === digit);
    const head = document.createElement("b"); head.textContent = String(digit);
    const n = document.createElement("span"); n.className = "muted small"; n.textContent = mine.length ? `×${mine.length}` : "";
    row.append(head, n, ...mine.slice(0, GALLERY).map((d) => thumb(d, true)));
    return row;
  }));
  state.rendered = state.events;
}
let scheduled = false;
function schedule() {
  if (!scheduled) { scheduled = true; requestAnimationFrame(() => { scheduled = false; render(); }); }
}

function applySettings(s) {
  state.settings = s;
  $("prompt-select").value = s.prompt === null ? "" : String(s.prompt);
  $("pause").textContent = t(s.paused ? "teacher.resume" : "teacher.pause");
  $("pause").setAttribute("aria-pressed", String(s.paused));
}

async function load() {
  const j = await api("state");
  const s = j.summary;
  state.n = s.n; state.confusion = s.confusion; state.devices = s.devices;
  state.deviceSet = new Set(j.drawings.map((d) => d.device));
  state.drawings = new Map(j.drawings.map((d) => [d.id, d]));
  $("mnist-accuracy").textContent = pct(s.mnist_accuracy);
  $("run").textContent = t("teacher.network", { run: s.run });
  applySettings(s);
  const url = $("student-url"); url.textContent = j.student_url; url.href = j.student_url;
  render();
}

function follow() {
  const es = new EventSource(`/api/class/events?${q}`);
  // (re)connected: reload, so nothing stored while the stream was down is missed
  es.addEventListener("open", () => { $("live").textContent = t("teacher.live"); $("live").className = "live on"; load().catch(() => {}); });
  es.addEventListener("error", () => { $("live").textContent = t("teacher.reconnecting"); $("live").className = "live"; });
  es.addEventListener("drawing", (e) => {
    const d = JSON.parse(e.data);
    if (state.drawings.has(d.id)) return;
    state.drawings.set(d.id, d);
    state.n++; state.confusion[d.label][d.prediction]++; state.events++;
    state.deviceSet.add(d.device);
    state.devices = Math.max(state.devices, state.deviceSet.size);
    state.lastEvent = { id: d.id, at: performance.now() };
    schedule();
  });
  es.addEventListener("removed", (e) => {
    const d = JSON.parse(e.data);
    state.drawings.delete(d.id);
    state.n--; state.confusion[d.label][d.prediction]--; state.events++;
    schedule();
  });
  es.addEventListener("settings", (e) => applySettings(JSON.parse(e.data)));
}

async function start() {
  translatePage();
  document.title = t("teacher.title");
  $("qr").src = "/api/class/qr.svg";
  const sel = $("prompt-select");
  for (let d = 0; d < 10; d++) sel.append(new Option(t("teacher.everyone", { d }), String(d)));
  sel.addEventListener("change", () => post("prompt", { digit: sel.value === "" ? null : Number(sel.value) }).catch(alert));
  $("pause").addEventListener("click", () => post("pause", { paused: !state.settings.paused }).catch(alert));
  try {
    await load();
  } catch (err) {
    document.querySelector("main").replaceChildren(Object.assign(document.createElement("p"),
      { className: "card error", textContent: err.message }));
    state.error = err.message; state.ready = true;
    return;
  }
  follow();
  state.ready = true;
}
start();
