// "One gradient step you can watch": choose the answer to teach, press Step, and the page's
// engine (gradient.js) takes one optimizer step on the current input. The stepped network
// replaces the explorer's (every view redraws with it); this card shows the loss and the
// probabilities before and after, each layer's error signal δ flowing back from the output,
// each layer's weight change as images, and the accuracy on 500 test digits before and after.
// Undo and reset go back. Nothing here computes maths of its own: it draws the engine's numbers.

import { api } from "./api.js";
import { EngineError, LR_MAX, OPTIMIZERS, accuracy, gridShape } from "./engine.js";
import { maxAbs, paint } from "./colors.js";
import { TEXT } from "./learn-text.js";
import { layerName, neuronName, weightsName } from "./numbering.js";
import { num, pct as share, sig, t } from "./i18n.js";

const DEFAULT_LR = { sgd: 0.01, momentum: 0.01, adam: 0.001 };
const PER_CLASS = 50, FLOW_MS = 260, FIRST_LAYER_PICTURES = 6, MATRIX_W = 240, MATRIX_H = 120;
const fmt = (v) => (Math.abs(v) < 1e-3 ? v.toExponential(1) : sig(v, 3));
const pct = (p) => share(p, 1);
const width = (p) => `${(100 * p).toFixed(1)}%`;

export class StepLab {
  /** hooks: net() the explorer's network now, input() the values it was fed (null with no
   * ink), use(network) redraws the explorer with another network, runName(), and
   * signal(deltas, from, fresh) draws the error signal of layers from..output on the diagram
   * (redrawing it first unless it is `fresh`). */
  constructor(card, hooks) {
    this.card = card; this.hooks = hooks;
    this.base = null; this.history = []; this.state = null; this.classNames = [];
    this.digits = null; this.accuracies = new WeakMap(); this.timer = 0;
    this.timings = [];  // ms from Step to every view redrawn, for benchmarks/bench_gradient.py
    /** @type {(id: string) => any} */
    const q = (id) => card.querySelector(`[data-testid="${id}"]`);
    this.label = q("step-label"); this.lr = q("step-lr"); this.optimizer = q("step-optimizer");
    this.goBtn = q("step-go"); this.undoBtn = q("step-undo"); this.resetBtn = q("step-reset");
    this.noteEl = q("step-note"); this.lossBefore = q("step-loss-before");
    this.lossAfter = q("step-loss-after"); this.probs = q("step-probs");
    this.accEl = q("step-accuracy"); this.deltas = q("step-deltas");
    this.changes = q("step-changes"); this.result = card.querySelector(".step-result");
    this.retext();
    for (const el of card.querySelectorAll("[data-list]")) {
      el.innerHTML = "";
      for (const line of TEXT[el.dataset.list]) { const li = document.createElement("li"); li.textContent = line; el.append(li); }
    }
    this.lr.max = String(LR_MAX);
    this.lr.title = TEXT.lrHint;
    this.optimizer.innerHTML = OPTIMIZERS.map((o) => `<option value="${o}">${TEXT.optimizers[o]}</option>`).join("");
    this.optimizer.addEventListener("change", () => { this.lr.value = String(DEFAULT_LR[this.optimizer.value]); });
    this.goBtn.addEventListener("click", () => this.go());
    this.undoBtn.addEventListener("click", () => this.undo());
    this.resetBtn.addEventListener("click", () => this.reset());
    this.buttons();
  }

  /** The card's sentences, again after the colour scheme changes (they name its colours). */
  retext() {
    for (const el of this.card.querySelectorAll("[data-text]")) el.textContent = TEXT[el.dataset.text];
  }

  /** A new model in the explorer: its trained network is where steps start from. */
  setRun(run, net) {
    this.base = net; this.history = []; this.state = null; this.digits = null;
    this.classNames = run ? run.class_names : [];
    this.label.innerHTML = this.classNames.map((n, c) => `<option value="${c}"></option>`).join("");
    [...this.label.options].forEach((o, c) => { o.textContent = this.classNames[c]; });
    this.result.hidden = true;
    this.note(net ? "" : TEXT.needsPage, !net);
    this.buttons();
  }

  note(text, bad = false) {
    this.noteEl.textContent = text;
    this.noteEl.classList.toggle("bad", bad);
  }

  buttons() {
    this.undoBtn.disabled = !this.history.length;
    this.resetBtn.disabled = !this.history.length;
  }

  go() {
    const net = this.hooks.net(), x = this.hooks.input();
    if (!net) { this.note(TEXT.needsPage, true); return; }
    if (!x) { this.note(TEXT.noInk, true); return; }
    const t0 = performance.now(), label = Number(this.label.value);
    let r;
    try {
      r = net.step(x, label, { lr: Number(this.lr.value), optimizer: this.optimizer.value, state: this.state });
    } catch (err) {
      if (!(err instanceof EngineError)) throw err;
      this.note(err.message, true);
      return;
    }
    this.history.push({ network: net, state: this.state });
    this.state = r.state; this.last = r;  // the numbers shown, for tests
    this.hooks.use(r.network);  // every view of the explorer redraws with the stepped network
    this.show(r, net, label);
    this.timings.push(performance.now() - t0);
    this.buttons();
    this.measure(net, r.network);
  }

  undo() {
    const prev = this.history.pop();
    if (!prev) return;
    this.state = prev.state;
    this.hooks.use(prev.network);
    this.result.hidden = true;
    this.note(TEXT.undone(this.history.length));
    this.buttons();
  }

  reset() {
    if (!this.base) return;
    this.history = []; this.state = null;
    this.hooks.use(this.base);
    this.result.hidden = true;
    this.note(TEXT.resetDone);
    this.buttons();
  }

  show(r, before, label) {
    const names = this.classNames, pb = r.before.probabilities, pa = r.after.probabilities;
    this.result.hidden = false;
    this.lossBefore.textContent = fmt(Math.max(r.loss_before, 0));
    this.lossAfter.textContent = fmt(Math.max(r.loss_after, 0));
    const from = names[r.before.prediction], to = names[r.after.prediction];
    this.note(`${TEXT.stepped(this.history.length)} ${from === to ? TEXT.stayed(to) : TEXT.flipped(from, to)}`);
    this.probs.innerHTML = "";
    for (let c = 0; c < pb.length; c++) {
      const li = document.createElement("li");
      li.classList.toggle("taught", c === label);
      li.innerHTML = `<b></b><span class="pair"><i class="before"></i><i class="after"></i></span><span class="pct"></span>`;
      li.children[0].textContent = names[c];
      /** @type {HTMLElement} */ (li.querySelector(".before")).style.width = width(pb[c]);
      /** @type {HTMLElement} */ (li.querySelector(".after")).style.width = width(pa[c]);
      li.children[2].textContent = `${pct(pb[c])} → ${pct(pa[c])}`;
      this.probs.appendChild(li);
    }
    this.flow(r.deltas, before);
    this.weightChanges(before, r.network, r.state.optimizer === "sgd" ? r.before : null);
  }

  // Each layer's δ as a grid of squares, the output's first, then one layer down every FLOW_MS.
  flow(deltas, net) {
    clearTimeout(this.timer);
    this.deltas.innerHTML = "";
    const figs = deltas.map((d, l) => {
      const f = document.createElement("figure"), c = document.createElement("canvas");
      const [h, w] = gridShape(d.length);
      paint(c, d, w, h, "diverging", maxAbs(d));
      const cell = Math.max(4, Math.min(14, Math.floor(160 / w)));  // a square per neuron
      c.style.width = `${w * cell}px`; c.style.height = `${h * cell}px`;
      f.append(c);
      const cap = document.createElement("figcaption");
      cap.textContent = `${layerName(l, net.nLayers)} · ${d.length}`;
      f.append(cap);
      f.classList.add("waiting");
      this.deltas.append(f);
      return f;
    });
    let l = figs.length - 1;
    const next = () => {
      if (l < 0) return;
      figs[l].classList.remove("waiting");
      // the same rings on the network diagram (just redrawn with the stepped network at first)
      this.hooks.signal?.(deltas, l, l === figs.length - 1);
      l--;
      this.timer = setTimeout(next, FLOW_MS);
    };
    next();
  }

  // The change of every weight, new − old: the first layer's most changed neurons as input-shaped
  // pictures, and every layer as a neurons × inputs image (a large one pooled to at most
  // MATRIX_W × MATRIX_H cells, each showing its block's largest change), scaled to the
  // layer's largest change.
  // `trace`: with plain SGD, the pass stepped on, whose silent inputs' rows did not change.
  weightChanges(before, after, trace) {
    this.changes.innerHTML = "";
    const [H, W] = before.inputShape;
    for (let l = 0; l < before.nLayers; l++) {
      const nIn = before.sizes[l], nOut = before.sizes[l + 1], w0 = before.weights[l], w1 = after.weights[l];
      const C = Math.min(nIn, MATRIX_W), R = Math.min(nOut, MATRIX_H);
      const col = Int32Array.from({ length: nIn }, (_, i) => Math.floor((i * C) / nIn));
      const row = Int32Array.from({ length: nOut }, (_, j) => Math.floor((j * R) / nOut) * C);
      const pooled = new Float32Array(R * C), size = new Float64Array(nOut);
      let scale = 0;
      const lit = trace ? before.valuesBefore(trace, l) : null;
      for (let i = 0; i < nIn; i++) {
        if (lit && lit[i] === 0) continue;
        const at = i * nOut, ci = col[i];
        for (let j = 0; j < nOut; j++) {
          const d = w1[at + j] - w0[at + j];
          if (d === 0) continue;
          const m = Math.abs(d), cell = row[j] + ci;
          size[j] += m;
          if (m > Math.abs(pooled[cell])) pooled[cell] = d;
          if (m > scale) scale = m;
        }
      }
      const box = document.createElement("div");
      box.className = "step-layer";
      const title = document.createElement("p");
      title.textContent = `${TEXT.layerMatrix(layerName(l, before.nLayers), weightsName(l), nOut, nIn)} · ${TEXT.largest} ±${fmt(scale)}`;
      box.append(title);
      if (l === 0 && H * W === nIn) box.append(this.neuronPictures(w0, w1, size, nIn, nOut, W, H, scale || 1));
      const c = document.createElement("canvas");
      paint(c, pooled, C, R, "diverging", scale || 1);
      c.className = "step-matrix";
      const cell = Math.min(12, 360 / C);  // 360 px wide at most; a thin layer stays visible
      c.style.width = `${Math.round(C * cell)}px`;
      c.style.height = `${Math.round(Math.max(R * cell, Math.min(R * 4, 48)))}px`;
      c.setAttribute("aria-label", t("step.matrixAria", { layer: layerName(l, before.nLayers), w: weightsName(l), rows: num(nOut), n: num(nIn) }));
      box.append(c);
      this.changes.append(box);
    }
  }

  // The incoming weight changes of the first layer's most changed neurons, as pictures.
  neuronPictures(w0, w1, size, nIn, nOut, W, H, scale) {
    const order = Array.from(size.keys()).sort((a, b) => size[b] - size[a]).slice(0, FIRST_LAYER_PICTURES);
    const box = document.createElement("div");
    box.className = "step-neurons";
    box.title = TEXT.firstLayer;
    const d = new Float32Array(nIn);
    for (const j of order) {
      for (let i = 0; i < nIn; i++) d[i] = w1[i * nOut + j] - w0[i * nOut + j];
      const c = document.createElement("canvas");
      paint(c, d, W, H, "diverging", scale);
      c.setAttribute("aria-label", t("step.neuronAria", { neuron: neuronName(0, j) }));
      box.append(c);
    }
    return box;
  }

  // Accuracy on PER_CLASS test digits of each class (the server's first ones, or those the
  // single-file explorer carries), before and after, computed in the page; after the frame.
  async measure(before, after) {
    this.accEl.textContent = TEXT.accuracyLoading;
    try {
      const d = await this.testDigits();
      if (!d.labels.length) { this.accEl.textContent = ""; return; }
      await new Promise((done) => setTimeout(done, 0));
      const a = this.scored(before, d), b = this.scored(after, d);
      let changed = 0;
      for (let k = 0; k < d.labels.length; k++) if (a.predictions[k] !== b.predictions[k]) changed++;
      const n = d.labels.length, right = (s) => `${num(Math.round(s.accuracy * n))} (${pct(s.accuracy)})`;
      if (this.hooks.net() === after) this.accEl.textContent = TEXT.accuracy(n, right(a), right(b), changed);
    } catch (err) {
      this.accEl.textContent = err.message;
    }
  }

  scored(net, d) {
    if (!this.accuracies.has(net)) this.accuracies.set(net, accuracy(net, d.images, d.labels));
    return this.accuracies.get(net);
  }

  async testDigits() {
    if (this.digits) return this.digits;
    const run = this.hooks.runName(), images = [], labels = [];
    for (let c = 0; c < this.classNames.length; c++) {
      const q = new URLSearchParams({ run, label: String(c), offset: "0", limit: String(PER_CLASS) });
      const d = await api(`api/test?${q}`);
      for (const t of d.digits) { images.push(...t.image); labels.push(t.label); }
    }
    this.digits = { images: Uint8Array.from(images), labels };
    return this.digits;
  }
}
