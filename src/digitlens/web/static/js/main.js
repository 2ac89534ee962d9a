// Glue: wires the drawing pad, the views, the inspector, the test browser and the trainer.
// The drawing loop runs in the page: each model's weights are fetched once (its JSON export)
// and engine.js computes preprocessing, values, evidence, lines and arithmetic (local.js).
// The server answers what needs the test set or training: slices, confusion, a neuron's top
// test digits and knock-out accuracy. A change is computed at once when the last one was at
// least 4 ms ago (a frame ago for the server loop), otherwise at the next frame.
// ?compute=server runs the server loop instead (every change sent to /api/predict, packed, over the
// live WebSocket while it is open, otherwise by fetch) for benchmarks/bench_browser.py.

import { api, fetchJSON, fetchPacked, toast } from "./api.js";
import { inputBoxOnDrawing, loadNetwork } from "./engine.js";
import { convAnswer, localAnswer } from "./local.js";
import { FeatureMaps } from "./featuremaps.js";
import { downloadCanvas } from "./colors.js";
import { Diagram } from "./diagram.js";
import { HiddenMap } from "./hiddenmap.js";
import { Closed, LiveChannel } from "./live.js";
import { DrawPad } from "./draw.js";
import { KeyboardPen } from "./keyboard.js";
import { Announcer } from "./announce.js";
import { LayerPicker } from "./layerpick.js";
import { setupPalette } from "./palette-choice.js";
import { markTerms } from "./glossary.js";
import { showDream } from "./dream.js";
import { EvidenceMethod } from "./evidence-method.js";
import { esc } from "./escape.js";
import { fillCode, languagePicker, pct, t, tn, translatePage } from "./i18n.js";
import { Nudge } from "./nudge.js";
import { Why } from "./why.js";
import { Features } from "./features.js";
import { renderArithmetic, renderInspector } from "./inspector.js";
import { drawSignal } from "./signal.js";
import { StepLab } from "./steplab.js";
import { Story } from "./story.js";
import { TestBrowser } from "./testset.js";
import { Trainer } from "./train.js";
import { fitState, input, knockedOut, knockoutCount, readURL, setInputShape, state, toggleKnockout, writeURL } from "./state.js";
import { labelStrip, renderBars, renderEvidence, renderStrip, runLabel } from "./views.js";

/** @type {(id: string) => any} the page's elements by id (inputs, canvases, buttons alike) */
const $ = (id) => document.getElementById(id);
// Measurements for benchmarks/bench_browser.py: pointer move -> every view redrawn, the
// engine's compute in the page, the request's round trip (server loop: socket or fetch) and
// the drawing alone, the circuit that follows the drawing (why.js, for bench_circuits.py), in
// milliseconds; the server's compute per socket answer (fetches carry it in their
// Server-Timing header); answers by path.
const live = { timings: [], engine: [], fetches: [], draws: [], computes: [], circuits: [],
               via: { socket: 0, fetch: 0, page: 0 }, renders: 0, ready: false, last: null,
               problem: null };
const keep = (list, v) => { list.push(v); if (list.length > 5000) list.shift(); };
window.digitlens = live;

let runs = [], run = null, pad, diagram, tests, channel, net = null, testDigit = null, hmap, nudge, evMethod, stepLab, story;
let announcer, picker, why, features, maps;
let conv = null, convKnockout = {};  // a convolutional run: its ConvNet and channels switched off
const SERVER_LOOP = new URLSearchParams(location.search).get("compute") === "server";
const nets = new Map();  // run name -> Promise of its Network: weights fetched once per model
let inflight = false, frameQueued = false, pendingSince = null, ablation = null, sentAt = -1e9;
const FRAME_MS = 1000 / 60, GAP_MS = 4;
live.idle = () => !inflight && !frameQueued && pendingSince === null;  // every change drawn
const EMPTY_INSPECTOR = document.getElementById("inspector").innerHTML;

function inputSpec() {
  const kept = nudge?.input();  // a nudged digit the user kept, fed as it is
  if (kept) return kept;
  if (pad.isEmpty()) return { pixels: new Array(input.shape[0] * input.shape[1]).fill(0) };
  if (state.test !== null && !pad.strokes.length) return { test_index: state.test };
  return pad.gray();
}

function requestFrame() {
  if (frameQueued) return;
  // the page computes in a few ms: a change at most every GAP_MS, sooner than the next frame
  const gap = SERVER_LOOP || !(net || conv) ? FRAME_MS : GAP_MS;
  if (!inflight && performance.now() - sentAt >= gap) { predict(); return; }
  frameQueued = true;
  requestAnimationFrame(() => { frameQueued = false; if (!inflight) predict(); });
}

function onPadChange(stamp) {
  why?.stale();  // a circuit or patch of the former drawing describes this one no longer
  if (state.test !== null && pad.strokes.length) { state.test = null; writeURL(); }
  if (pendingSince === null) pendingSince = stamp;
  requestFrame();
}

// The pad as the engine's input: a test digit as it is, a drawing as grey bytes, or null.
function localInput() {
  const kept = nudge?.input();  // a nudged digit the user kept, fed as it is
  if (kept) return kept;
  if (pad.isEmpty()) return null;
  if (state.test !== null && !pad.strokes.length && testDigit) {
    return { test: state.test, image: testDigit.image, label: testDigit.label };
  }
  return pad.grayBytes();
}

function predict() {
  if (!run) return;
  if (run.kind === "cnn") { if (conv) predictConv(); return; }
  if (SERVER_LOOP || !net) { predictOnServer(); return; }
  const since = pendingSince;
  pendingSince = null;
  sentAt = performance.now();
  let res;
  try {
    res = localAnswer(net, localInput(), { mode: state.mode, knockout: state.knockout,
                                           neuron: state.neuron && { layer: state.neuron.layer, index: state.neuron.index },
                                           run: run.name });
  } catch (err) {
    problem(err.message);
    return;
  }
  const t1 = performance.now();
  render(res);
  const t2 = performance.now();
  live.via.page++;
  keep(live.engine, t1 - sentAt);
  keep(live.draws, t2 - t1);
  if (since !== null) keep(live.timings, t2 - since);
}

// A convolutional network, always in the page: every feature map redrawn per change.
function predictConv() {
  const since = pendingSince;
  pendingSince = null;
  sentAt = performance.now();
  let res;
  try {
    res = convAnswer(conv, localInput(), { mode: state.mode, knockout: convKnockout, run: run.name });
  } catch (err) {
    problem(err.message);
    return;
  }
  const t1 = performance.now();
  renderVerdict(res);
  maps.update(res);
  announcer.update(res, run, thing);  // the prediction in words, once the drawing is still
  convKnockNote();
  const t2 = performance.now();
  live.via.page++;
  keep(live.engine, t1 - sentAt);
  keep(live.draws, t2 - t1);
  if (since !== null) keep(live.timings, t2 - since);
  live.renders++;
}

// A unit's receptive field ringed on the pad: the strokes it was computing from (a test digit
// or nothing drawn: no ring). The pad's own canvas is what the network reads, so the ring is a
// box laid over it.
function outlineOnPad(field, answer) {
  const ring = $("pad-field"), pre = answer?.preprocessing;
  const box = field && pre?.source === "drawing" ? inputBoxOnDrawing(pre, field, conv.inputShape) : null;
  ring.hidden = !box;
  if (!box) return;
  const c = pad.canvas, kx = c.offsetWidth / pre.width, ky = c.offsetHeight / pre.height;
  Object.assign(ring.style, { left: `${c.offsetLeft + box.left * kx}px`, top: `${c.offsetTop + box.top * ky}px`,
                              width: `${(box.right - box.left) * kx}px`, height: `${(box.bottom - box.top) * ky}px` });
}

function toggleChannel(layer, channel) {
  const list = new Set(convKnockout[layer] || []);
  if (list.has(channel)) list.delete(channel); else list.add(channel);
  if (list.size) convKnockout[layer] = [...list].sort((a, b) => a - b); else delete convKnockout[layer];
  requestFrame();
}

// How many maps are off, and (measured by the server, or on the single file's sample) the test
// accuracy with and without them.
function convKnockNote() {
  const n = Object.values(convKnockout).reduce((s, l) => s + l.length, 0), note = $("cnn-ko");
  const key = JSON.stringify([run.name, convKnockout]);
  note.hidden = !n;
  if (!n) note.dataset.key = "";
  if (!n || note.dataset.key === key) return;
  note.dataset.key = key;
  note.innerHTML = `${esc(tn("cnn.off", n))} <span data-testid="cnn-ko-accuracy"></span> <button type="button" data-testid="cnn-ko-reset">${esc(t("ko.reset"))}</button>`;
  note.querySelector("button").addEventListener("click", () => { convKnockout = {}; note.dataset.key = ""; requestFrame(); });
  api("api/ablate", { run: run.name, knockout: convKnockout }).then((d) => {
    if (note.dataset.key !== key) return;  // another knock-out since
    note.querySelector("[data-testid=cnn-ko-accuracy]").textContent =
      `· ${t("cnn.offAccuracy", { before: pct(d.accuracy, 1), after: pct(d.accuracy_without, 1) })}`;
  }).catch((err) => toast(err.message));
}

// A problem the page cannot compute past (a network it cannot run, a drawing it refuses):
// said where the prediction would be, and as a toast.
function problem(message) {
  live.problem = message;
  const p = $("prediction");
  p.textContent = "!"; p.classList.add("none");
  $("confidence").textContent = message;
  toast(message);
}

async function predictOnServer() {
  const version = pad.version, since = pendingSince;
  pendingSince = null;
  const body = { run: run.name, mode: state.mode, knockout: state.knockout, format: "packed",
                 ...inputSpec() };
  if (state.neuron) body.inspect = { layer: state.neuron.layer, neuron: state.neuron.index };
  inflight = true;
  sentAt = performance.now();
  try {
    const t0 = performance.now();
    const res = await ask(body);
    const t1 = performance.now();
    if (res.run === run.name) render(res);
    const t2 = performance.now();
    keep(live.fetches, t1 - t0);
    keep(live.draws, t2 - t1);
    if (since !== null) keep(live.timings, t2 - since);
  } catch (err) {
    toast(err.message);
  } finally {
    inflight = false;
  }
  if (pad.version !== version || pendingSince !== null) requestFrame();
}

// Over the socket when it is open; by fetch when it is not or closes meanwhile.
async function ask(body) {
  if (channel.open) {
    try {
      const res = await channel.request(body);
      live.via.socket++;
      if (res.compute_ms !== undefined) keep(live.computes, res.compute_ms);
      return res;
    } catch (err) {
      if (!(err instanceof Closed)) throw err;
    }
  }
  const res = await api("api/predict", body);
  live.via.fetch++;
  return res;
}

// The workbook shows a test image of the class the network sees now (a drawing's pixels do
// not fit in a link; the workbook's grid takes any digit typed in).
function excelLink(digit) {
  const link = $("xlsx-download"), base = `api/runs/${encodeURIComponent(run.name)}/export/xlsx`;
  if (!link) return;
  link.href = digit === null ? base : `${base}?digit=${digit}`;
  link.title = digit === null ? t("top.xlsxFirst") : t("top.xlsxClass", { name: run.class_names[digit] });
}

// The prediction, its bars, the preprocessing strip and the source line: any network's.
function renderVerdict(res) {
  live.last = res;
  const names = run.class_names;
  const p = $("prediction");
  p.textContent = res.prediction === null ? "?" : names[res.prediction];
  p.classList.toggle("none", res.prediction === null);
  p.classList.toggle("long", p.textContent.length > 2);
  $("confidence").textContent = res.prediction === null ? t(`predict.empty.${thing}`)
    : t("predict.sure", { p: pct(res.probabilities[res.prediction], 1) });
  live.problem = null;
  renderBars($("bars"), res.probabilities, res.prediction, names, res.has_ink);
  renderStrip(pad, { ...res.preprocessing, input: res.input }, state.mode);
  $("source").textContent = state.test !== null && !pad.strokes.length
    ? t("source.test", { name: testDigit?.name ?? t("source.testName", { i: state.test }), label: res.preprocessing.label })
    : pad.isEmpty() ? "" : tn("source.drawing", pad.strokes.length);
}

function render(res) {
  live.last = res;
  excelLink(res.prediction);
  const names = run.class_names;
  const p = $("prediction");
  p.textContent = res.prediction === null ? "?" : names[res.prediction];
  p.classList.toggle("none", res.prediction === null);
  p.classList.toggle("long", p.textContent.length > 2);  // Fashion-MNIST's class names
  $("confidence").textContent = res.prediction === null ? t(`predict.empty.${thing}`)
    : t("predict.sure", { p: pct(res.probabilities[res.prediction], 1) });
  live.problem = null;
  renderBars($("bars"), res.probabilities, res.prediction, names, res.has_ink);
  const pre = { ...res.preprocessing, input: res.input };
  renderStrip(pad, pre, state.mode);
  features.update(res);  // a layer shown as features: this drawing's, before the diagram draws them
  if (why.live) {  // the circuit that follows the drawing, ringed in the redraw below
    const t0 = performance.now();
    why.update(res);
    keep(live.circuits, performance.now() - t0);
  }
  diagram.draw(res, state.neuron, knockedOut);
  picker.update(res);
  announcer.update(res, run, thing);
  if (!evMethod.takeOver(res)) renderEvidence($("evidence"), res.evidence, res.prediction, names);
  hmap.update(res);
  if (state.neuron && res.arithmetic && $("insp-maths")) {
    renderArithmetic($("insp-maths"), res.has_ink ? res.arithmetic : null, state.neuron.layer);
  }
  const src = $("source");
  src.textContent = res.preprocessing.source === "net input"
    ? t("source.kept")
    : state.test !== null && !pad.strokes.length
      ? t("source.test", { name: testDigit?.name ?? t("source.testName", { i: state.test }), label: res.preprocessing.label })
      : pad.isEmpty() ? "" : tn("source.drawing", pad.strokes.length);
  story?.update();  // the story's numbers follow the drawing
  if (!live.renders) live.firstRender = performance.now();  // ms since the page opened
  live.renders++;
}

async function refreshAblation() {
  const n = knockoutCount(), note = $("ko-note");
  if (!n) { note.hidden = true; ablation = null; placeInspector(); return; }
  try {
    ablation = await api("api/ablate", { run: run.name, knockout: state.knockout });
    note.hidden = false;
    note.innerHTML = `${esc(tn("ko.off", n))} · ${esc(ablation.scope || t("ko.scope"))} ` +
      `${pct(ablation.accuracy, 2)} → <b>${pct(ablation.accuracy_without, 2)}</b>` +
      ` <button id="ko-reset" data-testid="ko-reset">${esc(t("ko.reset"))}</button>`;
    $("ko-reset").addEventListener("click", async () => {
      state.knockout = {}; writeURL(); await refreshAblation(); requestFrame();
      if (state.neuron) selectNeuron(state.neuron.layer, state.neuron.index);
    });
    placeInspector();
  } catch (err) { toast(err.message); }
}

async function selectNeuron(layer, index) {
  state.neuron = { layer, index }; writeURL();
  features.forget();  // a feature card gives the inspector back
  const el = $("inspector");
  try {
    const body = { run: run.name, layer, neuron: index, knockout: state.knockout };
    if (SERVER_LOOP || !net) Object.assign(body, { mode: state.mode, ...inputSpec() });
    const d = await api("api/neuron", body);
    renderInspector(el, d, {
      nLayers: run.sizes.length - 1, knocked: knockedOut(layer, index),
      onClose: () => { state.neuron = null; writeURL(); closeInspector(); requestFrame(); },
      onKnockout: async () => { toggleKnockout(layer, index); writeURL(); await refreshAblation(); requestFrame(); },
      onLoadTest: loadTest,
    });
    renderArithmetic($("insp-maths"), d.arithmetic && !pad.isEmpty() ? d.arithmetic : null, layer);
    $("inspector").hidden = false;
    placeInspector();
    showDream(el, run, layer, index);
    if (live.last) diagram.draw(live.last, state.neuron, knockedOut);
    requestFrame();  // this neuron's arithmetic for the current drawing
  } catch (err) { toast(err.message); }
}

// On wide screens the inspector docks under the prediction and the diagram (style.css); here it
// starts below whichever ends lower (a knock-out note lengthens the prediction) when that
// leaves it room, so no bar of the prediction is hidden.
function placeInspector() {
  const el = $("inspector");
  el.style.top = ""; el.style.maxHeight = "";
  if (el.hidden || !matchMedia("(min-width: 1101px)").matches) return;
  const below = Math.max($("bars").getBoundingClientRect().bottom,
                         $("diagram").getBoundingClientRect().bottom) + 10;
  if (innerHeight - below >= 240) {
    el.style.top = `${below}px`; el.style.maxHeight = `${innerHeight - below - 8}px`;
  }
}

function closeInspector() {
  $("inspector").innerHTML = EMPTY_INSPECTOR;
  $("inspector").hidden = true;
  if (live.last) diagram.draw(live.last, null, knockedOut);
}

function loadTest(index, image, label, name) {
  state.test = index; writeURL();
  why?.stale();
  testDigit = { image, label, name };
  showTab("explore");
  pad.setBackground(image);
}

async function selectRun(name) {
  run = runs.find((r) => r.name === name) || runs[0] || null;
  if (!run) {
    fillCode($("source"), t("source.noModel"));
    return;
  }
  if (state.run !== run.name) { state.neuron = null; state.knockout = {}; }
  fitState(run.sizes);  // a link's neuron or knock-outs that this model does not have
  state.run = run.name; writeURL();
  $("run").value = run.name;
  const base = `api/runs/${encodeURIComponent(run.name)}`;
  if ($("model-download")) {  // the single-file explorer has no downloads
    $("model-download").href = `${base}/model.npz`;
    $("json-download").href = `${base}/export/json`;
    $("onnx-download").href = `${base}/export/onnx`;
  }
  excelLink(null);
  setInputShape(run.input_shape);
  labelStrip(input.shape);
  nameThings(run.class_names);
  nudge.setClasses(run.class_names);
  const convolutional = run.kind === "cnn";
  document.body.classList.toggle("cnn", convolutional);
  $("cnn-card").hidden = !convolutional;
  $("pad-field").hidden = true;
  conv = null;
  if (convolutional) { await selectConvRun(base); return; }
  diagram.setModel(run.sizes, run.class_names, run.activations, input.shape);
  features.setRun(run).catch((err) => toast(err.message));
  why.setModel(run.sizes, run.class_names);
  picker.setModel(run.sizes, run.class_names);
  live.last = null;  // the former model's answer fits neither the diagram nor the map
  net = null;
  if (!SERVER_LOOP) {
    if (!nets.has(run.name)) {
      nets.set(run.name, fetchJSON(`${base}/export/json`).then(loadNetwork));
    }
    try { net = await nets.get(run.name); } catch (err) {
      nets.delete(run.name);
      problem(t("source.askServer", { run: run.name, reason: err.message }));
    }
  }
  stepLab.setRun(run, net);
  hmap.load(run).catch((err) => toast(err.message));
  await refreshAblation();
  if (state.neuron) await selectNeuron(state.neuron.layer, state.neuron.index);
  else closeInspector();
  requestFrame();
  if (state.tab === "test") tests.open();
}

// A convolutional run: its network fetched once (packed), the feature-maps card built, the
// cards for fully connected networks hidden (style.css, body.cnn).
async function selectConvRun(base) {
  state.neuron = null; state.knockout = {}; writeURL();
  closeInspector();
  convKnockout = {};
  net = null; live.last = null;
  if (["learn", "test"].includes(state.tab)) showTab("explore");
  const key = `${run.name}\0network`;
  if (!nets.has(key)) nets.set(key, fetchPacked(`${base}/network`).then(loadNetwork));
  try { conv = await nets.get(key); } catch (err) {
    nets.delete(key);
    problem(t("source.askServer", { run: run.name, reason: err.message }));
    return;
  }
  maps.setNet(conv);
  live.conv = conv;
  requestFrame();
}

async function loadRuns(select) {
  const d = await api("api/runs");
  runs = d.runs.filter((r) => !r.error);
  const sel = $("run");
  sel.innerHTML = "";
  for (const r of runs) {
    sel.add(new Option(runLabel(r), r.name));
  }
  if (select) await selectRun(select);
  return d.default;
}

// MNIST's words for its digits; another model's classes are "pictures" and "classes".
let thing = "digit";
function nameThings(classNames) {
  const digits = classNames.every((n) => /^\d$/.test(n));
  thing = digits ? "digit" : "picture";
  const head = (sel, text) => { const h = document.querySelector(sel); if (h?.firstChild) h.firstChild.textContent = text; };
  head(".draw-card h2", t(digits ? "draw.title" : "draw.title.picture"));
  head(".evidence-card h2", t(digits ? "evidence.title" : "evidence.title.class"));
  const hint = document.querySelector("#tab-test .confusion-card h2 .hint");
  if (hint) hint.textContent = t(digits ? "test.confusionHint" : "test.confusionHint.class");
  head("#tab-test .gallery-card h2", t(digits ? "test.digits" : "test.images"));
}

function showTab(tab) {
  state.tab = tab; writeURL();
  for (const b of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll(".tabs button"))) {
    b.setAttribute("aria-selected", String(b.dataset.tab === tab));
  }
  const panel = tab === "learn" ? "explore" : tab;  // the story walks through the explorer itself
  for (const s of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll(".tab-panel"))) s.hidden = s.id !== `tab-${panel}`;
  story.open(tab === "learn");
  if (tab === "test" && run) tests.open();
}

function evidencePNG() {
  const figs = [...$("evidence").querySelectorAll("canvas")], [H, W] = input.shape;
  const k = Math.max(1, Math.floor(112 / Math.max(H, W)));  // 4 for 28×28
  const out = document.createElement("canvas");
  out.width = figs.length * (W * k + 8); out.height = H * k;
  const ctx = out.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  figs.forEach((c, i) => ctx.drawImage(c, i * (W * k + 8), 0, W * k, H * k));
  return out;
}

async function init() {
  readURL();
  translatePage();
  if (!globalThis.digitlensOffline) document.title = t("page.title");
  document.documentElement.style.setProperty("--fed", JSON.stringify(t("strip.fed")));  // style.css's caption
  if ($("lang")) languagePicker($("lang"));
  markTerms();
  setupPalette($("palette"), () => {  // a new scheme: redraw, the inspector's pictures too
    requestFrame();
    if (state.neuron && run) selectNeuron(state.neuron.layer, state.neuron.index);
    if (conv) { const unit = maps.unit; maps.setNet(conv); if (unit) maps.select(unit); }
    stepLab?.retext();
  });
  channel = new LiveChannel("api/live");
  pad = new DrawPad($("draw"), onPadChange);
  live.pad = pad;  // its strokes, for tests
  const question = () => ({ mode: state.mode, ...inputSpec() });  // the input, as predicted
  // the server's nudge and IG use the whole network: say so while neurons or maps are off
  const intact = () => knockoutCount() > 0 || (conv !== null && Object.values(convKnockout).some((l) => l.length));
  nudge = new Nudge(pad, { run: () => run, input: question, caveat: intact,
                           onKeep: () => { state.test = null; writeURL(); } });
  live.nudge = nudge;
  evMethod = new EvidenceMethod(document.querySelector(".evidence-card h2"), {
    run: () => run, input: question, redraw: () => requestFrame(), caveat: intact,
    render: (ev, p, err) => (err ? toast(err) : renderEvidence($("evidence"), ev, p, run.class_names)),
  });
  // a neuron chosen: a patch's pick (why.js), a feature's card, else the neuron inspector
  picker = new LayerPicker($("layer-bar"), $("layer-zoom"), (l, i) => why.pick(l, i) || selectNeuron(l, i));
  // (a layer shown as features: a square is a feature, its card opens, whatever the patch)
  diagram = new Diagram($("diagram"), $("tip"), (l, i) => features.pick(l, i) || why.pick(l, i) || selectNeuron(l, i), (l) => picker.show(l));
  features = new Features($("features-bar"), {
    diagram, inspector: $("inspector"), place: placeInspector, loadTest,
    redraw: () => {  // and the circuit's sentence, which splits the gap over shown features
      if (live.last) diagram.draw(live.last, state.neuron, knockedOut);
      if (why?.shown) why.describe(why.shown);
    },
    open: () => { if (state.neuron) { state.neuron = null; writeURL(); } },
    close: closeInspector,
  });
  live.features = features;
  maps = new FeatureMaps($("cnn-layers"), $("cnn-inspector"), { knockout: toggleChannel, outline: outlineOnPad });
  live.maps = maps;  // the unit on display, for tests  // the layers shown as features and the card, for tests
  announcer = new Announcer($("announce"), $("diagram"));
  why = new Why($("why"), { run: () => run, input: question, diagram, isEmpty: () => pad.isEmpty(),
                            shape: () => input.shape, net: () => (SERVER_LOOP ? null : net),
                            redraw: () => requestFrame(), features });
  live.why = why;  // the circuit and patch on display, for tests
  live.neuronPoint = (layer, index) => diagram.clientPoint(layer + 1, index);  // for tests
  live.diagramTextPx = () => diagram.smallestTextPx();  // for tests: the canvas's smallest label
  hmap = new HiddenMap($("hidden-map"), $("map-layer"), $("map-note"), $("map-near"));
  live.map = hmap;  // the moving point, for tests
  // one gradient step: the stepped network becomes the one every view draws (SGD in the page)
  stepLab = new StepLab($("step-card"), {
    net: () => net, runName: () => run?.name, input: () => (live.last?.has_ink ? live.last.input : null),
    use: (network) => { net = network; predict(); },
    signal: (deltas, from, fresh) => {
      if (!live.last) return;
      if (!fresh) diagram.draw(live.last, state.neuron, knockedOut);
      drawSignal(diagram, deltas, from);
    },
  });
  live.stepLab = stepLab;
  story = new Story($("story"), { net: () => net, last: () => live.last, classNames: () => run?.class_names ?? [],
                                  testDigits: () => stepLab.testDigits(),
                                  inspect: (layer, index) => { if (state.neuron?.layer !== layer || state.neuron?.index !== index) selectNeuron(layer, index); },
                                  uninspect: () => { if (state.neuron) { state.neuron = null; writeURL(); closeInspector(); requestFrame(); } } });
  live.story = story;
  tests = new TestBrowser(() => run?.name, loadTest, () => run?.class_names ?? null);
  $("clear").addEventListener("click", () => { state.test = null; writeURL(); pad.clear(); });
  $("undo").addEventListener("click", () => pad.undo());
  new KeyboardPen(pad, () => $("clear").click(), $("pen-status"));
  document.addEventListener("keydown", (e) => {  // Ctrl/Cmd+Z undoes a stroke while exploring
    if ((e.ctrlKey || e.metaKey) && e.key === "z" && ["explore", "learn"].includes(state.tab) &&
        !["INPUT", "SELECT"].includes(document.activeElement?.tagName)) {
      e.preventDefault(); pad.undo();
    }
  });
  $("pen-size").addEventListener("click", () => { $("pen-size").textContent = t(`draw.pen.${pad.cyclePen()}`); });
  for (const r of /** @type {NodeListOf<HTMLInputElement>} */ (document.querySelectorAll("input[name=mode]"))) {
    r.checked = r.value === state.mode;
    r.addEventListener("change", () => {
      state.mode = r.value; writeURL(); requestFrame();
    });
  }
  for (const b of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll(".tabs button"))) b.addEventListener("click", () => showTab(b.dataset.tab));
  for (const b of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("button.png"))) {
    b.addEventListener("click", () => {
      const which = b.dataset.png;
      const canvas = which === "draw" ? pad.canvas : which === "diagram" ? $("diagram") : evidencePNG();
      downloadCanvas(canvas, `digitlens-${which}.png`);
    });
  }
  $("run").addEventListener("change", (e) => selectRun(e.target.value));
  window.addEventListener("resize", placeInspector);
  try {
    const info = await api("api/info");
    if (info.presets.length) new Trainer(info, async (name, done) => { await loadRuns(); $("run").value = run?.name ?? name; if (done && !run) await selectRun(name); });
    const def = await loadRuns();
    showTab(state.tab);
    await selectRun(state.run || def);
    if (state.test !== null && run) {
      const res = await api("api/predict", { run: run.name, test_index: state.test,
                                             include: ["preprocessing"], format: "packed" });
      const image = Array.from(res.input, (v) => Math.round(v * 255));
      testDigit = { image, label: res.preprocessing.label };
      pad.setBackground(image);
    }
  } catch (err) { toast(err.message); }
  live.ready = true;
}

export { init as start };
if (!globalThis.digitlensOffline) init();
