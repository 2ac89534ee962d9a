// dl.Explorer: the explorer's drawing pad (draw.js) and colours (colors.js); the numbers come
// from the in-page engine (engine.js) in "page" mode, else from the kernel's Python engine.

const CELL = 10;  // px per neuron square in the network diagram

function gridShape(n) {
  if (n === 784) return [28, 28];
  let cols = Math.ceil(Math.sqrt(n));
  while (n % cols && cols < n && cols - Math.sqrt(n) < 3) cols++;
  if (n % cols) cols = Math.ceil(Math.sqrt(n));
  return [Math.ceil(n / cols), cols];
}

function layerLabel(sizes, k) {
  return k === sizes.length - 2 ? `output (${sizes[k + 1]})` : `hidden ${k + 1} (${sizes[k + 1]})`;
}

async function render({ model, el }) {
  const mods = await loadModules();
  const C = mods.colors, sizes = model.get("sizes"), names = model.get("class_names");
  const root = h("div", { class: "dl-explorer" });
  el.append(root);

  // left: the pad and what the network sees
  const pad = h("canvas", { width: 280, height: 280, class: "dl-pad", "data-testid": "dl-canvas" });
  const seen = h("canvas", { width: 28, height: 28, class: "dl-seen", "data-testid": "dl-seen" });
  const clear = h("button", { type: "button", text: "Clear", "data-testid": "dl-clear" });
  const undo = h("button", { type: "button", text: "Undo" });
  root.append(h("div", { class: "dl-col" }, h("div", { class: "dl-title", text: "Draw a digit" }),
    pad, h("div", { class: "dl-row" }, clear, undo),
    h("div", { class: "dl-note", text: "what the network sees (cropped, fitted, centred):" }), seen));

  // middle: prediction and probabilities
  const pred = h("div", { class: "dl-prediction", "data-testid": "dl-prediction", text: "–" });
  const bars = h("div", { class: "dl-bars" });
  const barEls = names.map((n) => {
    const fill = h("div", { class: "dl-fill" });
    const row = h("div", { class: "dl-bar" }, h("span", { text: n }), h("div", { class: "dl-track" }, fill));
    bars.append(row);
    return { row, fill };
  });
  const mode = h("div", { class: "dl-note", "data-testid": "dl-mode",
    text: model.get("compute") === "page" ? "computed in this page" : "computed by the kernel" });
  root.append(h("div", { class: "dl-col" }, h("div", { class: "dl-title", text: "Prediction" }),
    pred, bars, mode));

  // the network: one grid of squares per layer; click one to inspect it
  const layers = sizes.slice(1).map((n, k) => {
    const [r, c] = gridShape(n);
    const cv = h("canvas", { class: "dl-layer", "data-layer": k, width: c, height: r });
    cv.style.width = `${Math.min(c * CELL, 200)}px`;
    cv.addEventListener("click", (e) => {
      const b = cv.getBoundingClientRect();
      const col = Math.floor((e.clientX - b.left) / b.width * c);
      const row = Math.floor((e.clientY - b.top) / b.height * r);
      const index = row * c + col;
      if (index < n) { model.set("selected", { layer: k, index }); model.save_changes(); }
    });
    return { cv, r, c, n };
  });
  const net = h("div", { class: "dl-col dl-net" }, h("div", { class: "dl-title", text: "Network" }));
  layers.forEach((L, k) => net.append(h("div", { class: "dl-note", text: layerLabel(sizes, k) }), L.cv));
  net.append(h("div", { class: "dl-note", text: "click a neuron to inspect it" }));
  root.append(net);

  // evidence and inspector
  const evTitle = h("div", { class: "dl-title", text: "Evidence: input × weights per class" });
  const evGrid = h("div", { class: "dl-evidence", "data-testid": "dl-evidence" });
  const evCells = names.map((n) => {
    const cv = h("canvas", { width: 28, height: 28 });
    const label = h("div", { class: "dl-note", text: n });
    evGrid.append(h("div", {}, cv, label));
    return { cv, label };
  });
  const insp = h("div", { class: "dl-inspector", "data-testid": "dl-inspector" },
    h("div", { class: "dl-note", text: "no neuron selected" }));
  root.append(h("div", { class: "dl-col" }, evTitle, evGrid,
    h("div", { class: "dl-title", text: "Neuron inspector" }), insp));

  function show(s) {
    if (!s || !s.activations) return;
    C.paint(seen, s.pixels, 28, 28, "gray");
    s.activations.forEach((a, k) => {
      const L = layers[k], vals = new Float32Array(L.r * L.c);
      const m = Math.max(...a) || 1;
      vals.set(a.map((v) => v / m));
      C.paint(L.cv, vals, L.c, L.r, "act", 1);
    });
    const p = s.probabilities, best = p.indexOf(Math.max(...p));
    pred.textContent = s.has_ink ? names[best] : "–";
    pred.dataset.digit = s.has_ink ? String(best) : "";
    barEls.forEach((b, i) => { b.fill.style.width = `${(100 * p[i]).toFixed(1)}%`;
      b.row.classList.toggle("dl-best", s.has_ink && i === best); });
    const ev = s.evidence;
    if (ev) {
      const all = ev.contributions, m = C.maxAbs(all);
      evCells.forEach((c, i) => {
        C.paint(c.cv, all.slice(784 * i, 784 * (i + 1)), 28, 28, "diverging", m);
        c.label.textContent = `${names[i]}: ${ev.scores[i].toFixed(2)}`;
      });
      evTitle.textContent = `Evidence (${ev.method}): input × weights per class`;
    }
    showInspector(s.inspector);
  }

  function showInspector(d) {
    insp.replaceChildren();
    if (!d) { insp.append(h("div", { class: "dl-note", text: "no neuron selected" })); return; }
    if (d.error) { insp.append(h("div", { class: "dl-note", text: d.error })); return; }
    const cv = h("canvas", { width: 28, height: 28, class: "dl-weights" });
    C.paint(cv, d.weights, 28, 28, "diverging");
    const a = d.arithmetic, f = (v) => Number(v).toFixed(3);
    insp.append(h("div", { class: "dl-note", text: `${layerLabel(sizes, d.layer)}, neuron ${d.index}` }), cv,
      h("pre", { text: `z = Σ inputs × weights + bias\n  = ${f(a.positive_sum)} (positive) ${f(a.negative_sum)} (negative) + ${f(a.bias)}\n  = ${f(a.z)}\n${a.activation}(z) = ${f(a.value)}` }));
  }

  const drawPad = new mods.draw.DrawPad(pad, () => schedule());
  let pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; send(); });
  }
  function send() {
    const g = drawPad.gray();
    const bin = atob(g.gray), bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    model.set("drawing_size", [g.width, g.height]);
    model.set("drawing", new DataView(bytes.buffer));
    model.save_changes();
  }
  clear.addEventListener("click", () => drawPad.clear());
  undo.addEventListener("click", () => drawPad.undo());
  model.on("change:state", () => show(model.get("state")));
  show(model.get("state"));
}

export default { render };
