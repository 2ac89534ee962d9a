// The student's page: draw, see the network read it (computed here, with the explorer's
// engine), say which digit was meant, send it. The device keeps a random pseudonym in
// localStorage; no names are asked for. The server re-reads every drawing it stores.
import { diagramWords } from "/explorer/js/announce.js";
import { Diagram } from "/explorer/js/diagram.js";
import { CNN_FORMAT, withFloats } from "/explorer/js/convnet.js";
import { DrawPad } from "/explorer/js/draw.js";
import { loadNetwork } from "/explorer/js/engine.js";
import { FeatureMaps } from "/explorer/js/featuremaps.js";
import { pct, t, translatePage } from "/explorer/js/i18n.js";
import { convAnswer, localAnswer } from "/explorer/js/local.js";

/** @type {(id: string) => any} the page's elements by id (inputs, canvases, buttons alike) */
const $ = (id) => document.getElementById(id);
const KEY = "digitlens.classroom.device";
const ADJ = ["calm", "brave", "quick", "sunny", "lucky", "quiet", "bold", "kind", "swift",
             "merry", "keen", "witty", "gentle", "bright", "happy", "clever"];
const ANIMAL = ["otter", "fox", "owl", "panda", "koala", "lynx", "heron", "tiger", "whale",
                "gecko", "bison", "robin", "zebra", "llama", "seal", "crane"];
/** @type {Record<string, any>} read by the tests as window.classroom */
const state = window.classroom = { ready: false, net: null, prediction: null, label: null,
                                   prompt: null, paused: false, sent: 0, drawn: false,
                                   knockout: {} };

function pseudonym() {
  let id = localStorage.getItem(KEY);
  if (!id || !/^[A-Za-z0-9_-]{4,64}$/.test(id)) {
    const r = crypto.getRandomValues(new Uint32Array(3));
    id = `${ADJ[r[0] % ADJ.length]}-${ANIMAL[r[1] % ANIMAL.length]}-${(r[2] % 65536).toString(16).padStart(4, "0")}`;
    localStorage.setItem(KEY, id);
  }
  return id;
}

// ------------------------------------------------------------------ the pad: the explorer's
// DrawPad (draw.js), white ink on black. What is read and sent is its drawing at half size (as
// the explorer sends it): a quarter of the bytes to send and to preprocess on both ends; the page
// and the server read the same bytes.
let pending = false, clearing = false;
const pad = new DrawPad($("draw"), () => { if (!clearing) changed(); });
Object.defineProperty(state, "inking", { get: () => pad.current !== null, enumerable: true });
function clearPad() {
  clearing = true; pad.clear(); clearing = false;
  state.drawn = false; state.prediction = null; showReading(null); updateSubmit();
}
function changed() {
  state.drawn = !pad.isEmpty(); state.status = ""; $("status").textContent = "";
  if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; read(); }); }
}

// ------------------------------------------------------------------ reading it in the page
// The drawing read by the explorer's engine, as the explorer reads it (local.js: preprocessing to
// the model's input shape, the trace, the diagram's strongest signals).
function read() {
  if (!state.net) { updateSubmit(); return; }
  const gray = pad.grayBytes(), conv = state.net.kind === "cnn";
  const res = conv ? convAnswer(state.net, gray, { knockout: state.knockout }) : localAnswer(state.net, gray);
  state.last = res;
  // what is sent as the page's reading is the whole network's, as the server reads it: maps
  // switched off here change only what this page shows
  const off = conv && Object.values(state.knockout).some((l) => l.length);
  state.prediction = off ? convAnswer(state.net, gray).prediction : res.prediction;
  showReading(res.has_ink ? res : null);
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
// The network: the explorer's diagram, compact (diagram.js), with nothing to pick: a neuron's
// inspector is the explorer's, the tip says its name and value.
const diagram = state.diagram = new Diagram($("network"), $("net-tip"), null, null, { compact: true });
// A convolutional network: the explorer's feature maps (featuremaps.js) take the diagram's
// place; a map's unit opens the explorer's inspector, whose knock-out switches the channel off
// in this page's reading.
const maps = new FeatureMaps($("maps"), $("maps-inspector"), {
  knockout(layer, channel) {
    const off = new Set(state.knockout[layer] || []);
    if (off.has(channel)) off.delete(channel); else off.add(channel);
    state.knockout = { ...state.knockout, [layer]: [...off] };
    read();
  },
});
function drawNetwork(tr) {
  const net = state.net;
  if (!net) return;
  if (net.kind === "cnn") {
    maps.update(tr ?? convAnswer(net, null, { knockout: state.knockout }));
    $("net-note").textContent = t(tr ? "student.netMaps" : "student.netNote");
    return;
  }
  diagram.draw(tr ?? localAnswer(net, null), null, () => false);
  $("network").setAttribute("aria-label", tr ? diagramWords(tr, net.sizes, net.activations, net.classNames, false)
    : t("student.netAria"));
  $("net-note").textContent = tr ? t("student.netSizes", { sizes: net.sizes.join("-") }) : t("student.netNote");
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
async function send() {
  state.busy = true; updateSubmit();
  const status = $("status");
  try {
    const r = await fetch("/api/class/drawings", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ device: state.device, label: state.label, ...pad.gray(),
                             prediction: state.prediction }) });
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
    const doc = await (await fetch("/api/class/network")).json();
    const net = loadNetwork(doc?.format === CNN_FORMAT ? withFloats(doc) : doc);
    if (net.kind === "cnn") {
      $("network").parentElement.hidden = true;
      $("maps").hidden = false;
      maps.setNet(net);
    } else diagram.setModel(net.sizes, net.classNames, net.activations, net.inputShape);
    state.net = net;
    drawNetwork(null);
  } catch (err) {
    $("status").textContent = t("student.noNet", { reason: err.message });
  }
  state.ready = true;
}
start();
