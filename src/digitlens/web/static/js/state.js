// View state in the URL, so a link reproduces the view: run, tab, mode, selected neuron,
// knocked-out neurons, a loaded test digit and the layers shown as features (feat=1).
// ?run=default&n=0.37&ko=0.3,0.17&mode=raw

export const state = {
  run: null, tab: "explore", mode: "centred", neuron: null, knockout: {}, test: null,
  /** @type {number[]} */ features: [],
};

// The current model's input image [height, width] (MNIST: 28×28): the views paint at it.
export const input = { shape: [28, 28] };

export function setInputShape(shape) {
  input.shape = Array.isArray(shape) && shape.length === 2 ? [shape[0], shape[1]] : [28, 28];
}

export function readURL() {
  const q = new URLSearchParams(location.search);
  if (q.get("run")) state.run = q.get("run");
  if (["explore", "learn", "test", "train", "sweeps"].includes(q.get("tab"))) state.tab = q.get("tab");
  if (q.get("mode") === "raw") state.mode = "raw";
  const n = /^(\d+)\.(\d+)$/.exec(q.get("n") || "");
  if (n) state.neuron = { layer: +n[1], index: +n[2] };
  for (const item of (q.get("ko") || "").split(",")) {
    const m = /^(\d+)\.(\d+)$/.exec(item);
    if (m) (state.knockout[m[1]] ||= []).push(+m[2]);
  }
  state.features = (q.get("feat") || "").split(",").filter((l) => /^\d+$/.test(l)).map(Number);
  const t = q.get("test");
  if (t && /^\d+$/.test(t)) state.test = +t;
}

export function writeURL() {
  const q = new URLSearchParams();
  if (state.run) q.set("run", state.run);
  if (state.tab !== "explore") q.set("tab", state.tab);
  if (state.mode !== "centred") q.set("mode", state.mode);
  if (state.neuron) q.set("n", `${state.neuron.layer}.${state.neuron.index}`);
  const ko = Object.entries(state.knockout).flatMap(([l, ns]) => ns.map((i) => `${l}.${i}`));
  if (ko.length) q.set("ko", ko.join(","));
  if (state.test !== null) q.set("test", String(state.test));
  if (state.features.length) q.set("feat", state.features.join(","));
  const lang = new URLSearchParams(location.search).get("lang");  // a chosen language stays
  if (lang) q.set("lang", lang);
  const url = `${location.pathname}${q.toString() ? "?" + q : ""}`;
  history.replaceState(null, "", url);
}

export function knockedOut(layer, index) {
  return (state.knockout[layer] || []).includes(index);
}

export function toggleKnockout(layer, index) {
  const list = state.knockout[layer] || [];
  state.knockout[layer] = list.includes(index) ? list.filter((i) => i !== index)
    : [...list, index].sort((a, b) => a - b);
  if (!state.knockout[layer].length) delete state.knockout[layer];
}

export function knockoutCount() {
  return Object.values(state.knockout).reduce((n, l) => n + l.length, 0);
}

// Drop what a link names but this model lacks (a neuron or knock-out beyond its layers),
// so a shared or stale URL opens the model instead of failing its requests.
export function fitState(sizes) {
  const fits = (layer, index, layers) => layer < layers && index < sizes[layer + 1];
  if (state.neuron && !fits(state.neuron.layer, state.neuron.index, sizes.length - 1)) state.neuron = null;
  for (const [layer, list] of Object.entries(state.knockout)) {
    const kept = list.filter((i) => fits(+layer, i, sizes.length - 2));
    if (kept.length) state.knockout[layer] = kept; else delete state.knockout[layer];
  }
}
