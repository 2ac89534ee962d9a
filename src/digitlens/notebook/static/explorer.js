// dl.Explorer: the explorer's drawing pad (draw.js), network diagram (diagram.js, compact) and
// colours (colors.js); the numbers come from the in-page engine (engine.js) in "page" mode, else
// from the kernel's Python engine.
// In page mode the drawing, prediction and probabilities are synced back to the kernel once the
// drawing rests SYNC_MS (and every SYNC_MAX_MS during a long stroke), so the loop never waits
// for Python and serialising the traits does not land between two pointer moves.

const SYNC_MS = 150, SYNC_MAX_MS = 1000;

const FLOW = 40;  // the diagram's lines per layer: the strongest signals a·w (as the explorer's)

function layerLabel(sizes, k) {  // the page's names (numbering.js): "layer 0 (hidden) · 32"
  return `${PAGE.numbering.layerName(k, sizes.length - 1)} · ${sizes[k + 1]}`;
}

function render({ model, el }) {
  const C = PAGE.colors, E = PAGE.engine, sizes = model.get("sizes"), names = model.get("class_names");
  const [H, W] = model.get("input_shape") || [28, 28], P = H * W;
  const inPage = model.get("compute") === "page" && E !== undefined;
  const net = inPage ? E.loadNetwork(JSON.parse(model.get("network"))) : null;
  const root = h("div", { class: "dl-explorer" });
  el.append(root);

  // left: the pad and what the network sees
  const pad = h("canvas", { width: 280, height: 280, class: "dl-pad", "data-testid": "dl-canvas" });
  const seen = h("canvas", { width: W, height: H, class: "dl-seen", "data-testid": "dl-seen" });
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
    text: inPage ? "computed in this page (engine.js)" : "computed by the kernel" });
  root.append(h("div", { class: "dl-col" }, h("div", { class: "dl-title", text: "Prediction" }),
    pred, bars, mode));

  // the network: the explorer's diagram (diagram.js), compact; click a neuron to inspect it
  const netCanvas = h("canvas", { class: "dl-diagram", "data-testid": "dl-diagram", role: "img",
    "aria-label": "network diagram: each layer's neurons, brighter = more active; click one to inspect it" });
  const tip = h("div", { class: "dl-tip" });
  tip.hidden = true;
  root.append(h("div", { class: "dl-col dl-net" }, h("div", { class: "dl-title", text: "Network" }),
    h("div", { class: "dl-diagram-wrap" }, netCanvas, tip),
    h("div", { class: "dl-note", text: "click a neuron to inspect it (ringed orange)" })));
  const diagram = root.dlDiagram = new PAGE.diagram.Diagram(netCanvas, tip, (layer, index) => {
    model.set("selected", { layer, index }); model.save_changes();
  }, null, { compact: true });
  diagram.setModel(sizes, names, model.get("activations"), [H, W]);

  // evidence and inspector
  const evTitle = h("div", { class: "dl-title", text: "Evidence: input × weights per class" });
  const evGrid = h("div", { class: "dl-evidence", "data-testid": "dl-evidence" });
  const evCells = names.map((n) => {
    const cv = h("canvas", { width: W, height: H });
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
    C.paint(seen, s.pixels, W, H, "gray");
    const p = s.probabilities, best = p.indexOf(Math.max(...p));
    // an empty pad lights nothing (as in the explorer), though a blank input has an answer
    const blank = !s.has_ink, zeros = (n) => new Float32Array(n);
    diagram.draw({ input: s.pixels, activations: blank ? sizes.slice(1).map(zeros) : s.activations,
      probabilities: blank ? zeros(names.length) : p, prediction: blank ? null : best, has_ink: s.has_ink,
      flow: blank ? [] : s.flow || [] }, model.get("selected"), () => false);
    pred.textContent = s.has_ink ? names[best] : "–";
    pred.dataset.digit = s.has_ink ? String(best) : "";
    barEls.forEach((b, i) => { b.fill.style.width = `${(100 * p[i]).toFixed(1)}%`;
      b.row.classList.toggle("dl-best", s.has_ink && i === best); });
    const ev = s.evidence;
    if (ev) {
      const all = ev.contributions, m = C.maxAbs(all);
      evCells.forEach((c, i) => {
        C.paint(c.cv, all.slice(P * i, P * (i + 1)), W, H, "diverging", m);
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
    const cv = h("canvas", { width: W, height: H, class: "dl-weights" });
    C.paint(cv, d.weights, W, H, "diverging");
    const a = d.arithmetic, f = (v) => Number(v).toFixed(3);
    insp.append(h("div", { class: "dl-note", text: `${layerLabel(sizes, d.layer)}, ${PAGE.numbering.neuronName(d.layer, d.index)}` }), cv,
      h("pre", { text: `z = Σ inputs × weights + bias\n  = ${f(a.positive_sum)} (positive) ${f(a.negative_sum)} (negative) + ${f(a.bias)}\n  = ${f(a.z)}\n${a.activation}(z) = ${f(a.value)}` }));
  }

  // page mode: the engine computes everything a frame needs; the kernel hears the results
  let last = null, lastSync = performance.now(), syncTimer = null;
  function inspectPage(t, sel) {
    try {
      return { layer: sel.layer, index: sel.index, arithmetic: E.arithmetic(net, t, sel.layer, sel.index, 6),
        weights: E.neuronWeights(net, sel.layer, sel.index).composed };
    } catch (err) { return { error: err.message }; }
  }
  function computePage() {
    const g = drawPad.grayBytes(), t0 = performance.now();
    const pre = E.preprocess(g.gray, g.width, g.height, [H, W]);
    const t = net.trace(pre.centred), ev = E.evidence(net, t), sel = model.get("selected");
    const s = { has_ink: pre.has_ink, pixels: pre.centred, activations: t.activations,
      probabilities: t.probabilities, flow: pre.has_ink ? E.strongestConnections(net, t, FLOW) : [],
      evidence: { method: ev.method, scores: ev.scores, contributions: ev.contributions },
      inspector: sel && Number.isInteger(sel.layer) ? inspectPage(t, sel) : null };
    show(s);
    root.dataset.computeMs = (performance.now() - t0).toFixed(2);
    last = { pixels: Array.from(pre.centred), prediction: pre.has_ink ? t.prediction : null,
      probabilities: Array.from(t.probabilities) };
    syncLater();
  }
  function syncLater() {  // once the drawing rests SYNC_MS, or every SYNC_MAX_MS while it moves
    clearTimeout(syncTimer);
    const sync = () => {
      syncTimer = null; lastSync = performance.now();
      for (const [k, v] of Object.entries(last)) model.set(k, v);
      model.save_changes();
    };
    if (performance.now() - lastSync > SYNC_MAX_MS) sync();
    else syncTimer = setTimeout(sync, SYNC_MS);
  }
  // kernel mode: send the pad's grey levels; the kernel answers through `state`
  function sendToKernel() {
    const g = drawPad.grayBytes();
    model.set("drawing_size", [g.width, g.height]);
    model.set("drawing", new DataView(g.gray.buffer.slice(0)));
    model.save_changes();
  }
  // A change is computed at once (at most one every MIN_GAP_MS, as the explorer does); each
  // answer's delay since the oldest pointer move it reflects is kept in root.dlTimes.
  const MIN_GAP_MS = 4;
  root.dlTimes = [];
  let oldest = null, lastRun = -Infinity, timer = null, kernelSince = null;
  const drawPad = new PAGE.draw.DrawPad(pad, (stamp) => schedule(stamp));
  function schedule(stamp) {
    if (oldest === null) oldest = stamp ?? performance.now();
    if (timer) return;
    timer = setTimeout(() => {
      timer = null; lastRun = performance.now();
      const since = oldest; oldest = null;
      if (inPage) { computePage(); root.dlTimes.push(performance.now() - since); } else {
        kernelSince = kernelSince ?? since; sendToKernel();
      }
    }, Math.max(0, lastRun + MIN_GAP_MS - performance.now()));
  }
  clear.addEventListener("click", () => drawPad.clear());
  undo.addEventListener("click", () => drawPad.undo());
  if (inPage) model.on("change:selected", () => computePage());
  else {
    model.on("change:state", () => {
      show(model.get("state"));
      if (kernelSince !== null) { root.dlTimes.push(performance.now() - kernelSince); kernelSince = null; }
    });
    show(model.get("state"));
  }
}

export default { render };
