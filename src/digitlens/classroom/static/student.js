// The student's page: draw, see the network read it (computed here, with the explorer's
// engine), say which digit was meant, send it. The device keeps a random pseudonym in
// localStorage; no names are asked for. The server re-reads every drawing it stores.
import { uiColor } from "/explorer/js/colors.js";
import { loadNetwork, preprocess } from "/explorer/js/engine.js";
import { pct, t, translatePage } from "/explorer/js/i18n.js";

/** @type {(id: string) => any} the page's elements by id (inputs, canvases, buttons alike) */
const $ = (id) => document.getElementById(id);
const KEY = "digitlens.classroom.device";
const ADJ = ["calm", "brave", "quick", "sunny", "lucky", "quiet", "bold", "kind", "swift",
             "merry", "keen", "witty", "gentle", "bright", "happy", "clever"];
const ANIMAL = ["otter", "fox", "owl", "panda", "koala", "lynx", "heron", "tiger", "whale",
                "gecko", "bison", "robin", "zebra", "llama", "seal", "crane"];
/** @type {Record<string, any>} read by the tests as window.classroom */
const state = window.classroom = { ready: false, net: null, prediction: null, label: null,
                                   prompt: null, paused: false, sent: 0, drawn: false };

function pseudonym() {
  let id = localStorage.getItem(KEY);
  if (!id || !/^[A-Za-z0-9_-]{4,64}$/.test(id)) {
    const r = crypto.getRandomValues(new Uint32Array(3));
    id = `${ADJ[r[0] % ADJ.length]}-${ANIMAL[r[1] % ANIMAL.length]}-${(r[2] % 65536).toString(16).padStart(4, "0")}`;
    localStorage.setItem(KEY, id);
  }
  return id;
}

// ------------------------------------------------------------------ the pad: white ink on black
const pad = $("draw"), ctx = pad.getContext("2d", { willReadFrequently: true });
let stroke = null, pending = false;
function clearPad() {
  ctx.fillStyle = "#000"; ctx.fillRect(0, 0, pad.width, pad.height);
  state.drawn = false; state.prediction = null; showReading(null); updateSubmit();
}
function at(e) {
  const r = pad.getBoundingClientRect();
  return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
}
pad.addEventListener("pointerdown", (e) => {
  e.preventDefault(); pad.setPointerCapture?.(e.pointerId);
  stroke = at(e); state.inking = true; dot(stroke); changed();
});
pad.addEventListener("pointermove", (e) => {
  if (!stroke) return;
  e.preventDefault();
  for (const ev of e.getCoalescedEvents ? e.getCoalescedEvents() : [e]) {
    const p = at(ev);
    ctx.strokeStyle = "#fff"; ctx.lineWidth = 20; ctx.lineCap = "round"; ctx.lineJoin = "round";
    ctx.beginPath(); ctx.moveTo(...stroke); ctx.lineTo(...p); ctx.stroke();
    stroke = p;
  }
  changed();
});
for (const t of ["pointerup", "pointercancel"]) {
  pad.addEventListener(t, () => { stroke = null; state.inking = false; changed(); });
}
/** @param {number[]} point */
function dot([x, y]) { ctx.fillStyle = "#fff"; ctx.beginPath(); ctx.arc(x, y, 10, 0, 2 * Math.PI); ctx.fill(); }
function changed() {
  state.drawn = true; state.status = ""; $("status").textContent = "";
  if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; read(); }); }
}
// What is read and sent: the pad at half size (as the explorer sends it), a quarter of the
// bytes to send and to preprocess on both ends; the page and the server read the same bytes.
const SIDE = 140, small = document.createElement("canvas");
small.width = small.height = SIDE;
const smallCtx = small.getContext("2d", { willReadFrequently: true });
function gray() {
  smallCtx.drawImage(pad, 0, 0, SIDE, SIDE);
  const d = smallCtx.getImageData(0, 0, SIDE, SIDE).data, g = new Uint8Array(SIDE * SIDE);
  for (let i = 0; i < g.length; i++) g[i] = d[4 * i];
  return g;
}

// ------------------------------------------------------------------ reading it in the page
function read() {
  if (!state.net) { updateSubmit(); return; }
  const pre = preprocess(gray(), SIDE, SIDE);
  if (!pre.has_ink) { state.prediction = null; showReading(null); updateSubmit(); return; }
  const tr = state.net.trace(pre.centred);
  state.prediction = tr.prediction;
  showReading(tr);
  updateSubmit();
}
function showReading(tr) {
  $("prediction").textContent = tr ? String(tr.prediction) : "–";
  $("sure").textContent = tr ? t("predict.sure", { p: pct(tr.probabilities[tr.prediction]) }) : "";
  const bars = $("bars");
  bars.replaceChildren(...Array.from({ length: 10 }, (_, d) => {
    const p = tr ? tr.probabilities[d] : 0, el = document.createElement("div");
    el.className = "prob" + (tr && d === tr.prediction ? " top" : "");
    const fill = document.createElement("i"); fill.style.height = `${Math.max(2, 100 * p)}%`;
    const lab = document.createElement("span"); lab.textContent = String(d);
    el.append(fill, lab); return el;
  }));
  drawNetwork(tr);
}
// The simplified network: one row of dots per layer (at most 24 shown, the most active),
// brighter = more active; the output row is the ten digits.
function drawNetwork(tr) {
  const c = $("network"), g = c.getContext("2d"), W = c.width, H = c.height;
  g.clearRect(0, 0, W, H);
  if (!state.net) return;
  const layers = tr ? [tr.input, ...tr.activations] : state.net.sizes.map((n) => new Float32Array(n));
  const rows = layers.length, rowH = H / rows, teal = uiColor("teal-rgb");  // colors.css
  layers.forEach((a, l) => {
    const last = l === rows - 1, first = l === 0;
    let idx = Array.from(a.keys());
    if (!last) idx = idx.sort((i, j) => a[j] - a[i]).slice(0, first ? 0 : 24).sort((i, j) => i - j);
    const y = rowH * (l + 0.5), n = Math.max(idx.length, 1);
    if (first) {  // the input: the 28×28 the network sees, small
      const s = Math.min(rowH - 6, 40), img = g.createImageData(28, 28);
      for (let i = 0; i < 784; i++) { const v = 255 * (a[i] || 0); img.data.set([v, v, v, 255], 4 * i); }
      const off = document.createElement("canvas"); off.width = off.height = 28;
      off.getContext("2d").putImageData(img, 0, 0);
      g.imageSmoothingEnabled = false; g.drawImage(off, W / 2 - s / 2, y - s / 2, s, s);
      return;
    }
    const peak = Math.max(1e-6, ...idx.map((i) => a[i]));
    idx.forEach((i, k) => {
      const x = W * (k + 0.5) / n, v = Math.max(0, a[i]) / peak;
      g.beginPath(); g.arc(x, y, last ? 9 : 5, 0, 2 * Math.PI);
      g.fillStyle = `rgba(${teal}, ${0.12 + 0.88 * v})`; g.fill();
      if (last) {
        g.fillStyle = uiColor(v > 0.5 ? "white" : "ink"); g.font = "13px system-ui"; g.textAlign = "center";  // 12 CSS px or more once scaled to a phone
        g.textBaseline = "middle"; g.fillText(String(i), x, y + 0.5);
      }
    });
  });
  $("net-note").textContent = tr ? t("student.netSizes", { sizes: state.net.sizes.join("-") }) : t("student.netNote");
}

// ------------------------------------------------------------------ meaning and sending
function digitButtons() {
  $("digits").replaceChildren(...Array.from({ length: 10 }, (_, d) => {
    const b = document.createElement("button");
    b.type = "button"; b.textContent = String(d); b.dataset.testid = `label-${d}`;
    b.setAttribute("role", "radio");
    b.addEventListener("click", () => { if (state.prompt === null) { state.label = d; showLabel(); } });
    return b;
  }));
}
function showLabel() {
  const fixed = state.prompt !== null;
  if (fixed) state.label = state.prompt;
  $("digits").querySelectorAll("button").forEach((b, d) => {
    b.setAttribute("aria-checked", String(d === state.label));
    b.disabled = fixed && d !== state.prompt;
  });
  $("meant-title").textContent = fixed ? t("student.asks", { d: state.prompt }) : t("student.meant");
  updateSubmit();
}
function updateSubmit() {
  const b = $("submit");
  // without the network in the page (it failed to load) the server's reading is shown on sending
  const unread = state.net !== null && state.prediction === null;
  b.disabled = state.paused || !state.drawn || unread || state.label === null || state.busy;
  b.textContent = state.paused ? t("student.paused") : t("student.send");
}
function applySettings(s) {
  const changedPrompt = s.prompt !== state.prompt;
  state.prompt = s.prompt; state.paused = s.paused;
  const p = $("prompt");
  p.hidden = s.prompt === null && !s.paused;
  p.textContent = s.paused ? t("student.pausedLong") : t("student.prompt", { d: s.prompt });
  if (changedPrompt && s.prompt === null) state.label = null;
  showLabel();
}
function b64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
async function send() {
  state.busy = true; updateSubmit();
  const status = $("status");
  try {
    const r = await fetch("/api/class/drawings", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ device: state.device, label: state.label, gray: b64(gray()),
                             width: SIDE, height: SIDE, prediction: state.prediction }) });
    const j = await r.json();
    if (!j.ok) {
      status.textContent = j.error; status.className = "status bad";
      if (r.status === 409) await refresh();
      return;
    }
    state.sent++; state.lastServer = j.prediction;
    status.className = "status good";
    status.textContent = t(j.prediction === j.label ? "student.sentRight" : "student.sentWrong",
                           { label: j.label, prediction: j.prediction });
    clearPad();
    if (state.prompt === null) { state.label = null; showLabel(); }
  } catch (err) {
    status.textContent = t("student.notSent", { reason: err.message }); status.className = "status bad";
  } finally { state.busy = false; updateSubmit(); }
}
async function refresh() {
  try {
    const j = await (await fetch("/api/class/status")).json();
    if (j.ok) applySettings(j);
  } catch { /* the next poll tries again */ }
}

async function start() {
  translatePage();
  document.title = t("student.title");
  state.device = pseudonym();
  $("pseudonym").textContent = state.device;
  digitButtons(); clearPad();
  $("clear").addEventListener("click", clearPad);
  $("submit").addEventListener("click", send);
  await refresh();
  setInterval(refresh, 3000);
  try {
    state.net = loadNetwork(await (await fetch("/api/class/network")).json());
    drawNetwork(null);
  } catch (err) {
    $("status").textContent = t("student.noNet", { reason: err.message });
  }
  state.ready = true;
}
start();
