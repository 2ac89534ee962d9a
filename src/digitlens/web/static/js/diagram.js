// The network diagram: the input image, every layer's neurons as a grid of squares coloured by
// their activation (S0's fingerprints), and lines for the strongest signals a·w for this input.
// Drawing and hit-testing live here, the layout in diagramlayout.js; every number drawn comes from
// the engine. The canvas is laid out at the width its box gives it and never scaled down, so its
// labels stay 12 CSS px on a phone and a projector alike; when the network needs more room than
// that, the box scrolls sideways. A finger's tap on squares smaller than a fingertip opens the
// layer enlarged (layerpick.js).
// Compact mode ({compact: true}: the student's phone, a notebook cell) is the same picture made
// short: short titles ("layer 0", "87/512 fire"), the input at 2 px a pixel, the height what the
// tallest column needs, and the squares as large as the width allows (14 px at most, 3 at least).
// Every neuron stays drawn, even in wide layers: where most squares are dark is what a learner
// sees in them, and a chosen few would need a numbering of their own; when even 3-px squares do
// not fit, the box scrolls sideways as in the full mode.
// A hidden layer may be shown through a view instead of its neurons (setView: its features,
// features.js): the view gives the squares' count, values, names and subtitle.

import { ACT_CSS, activationColor, activationStep, css, divergingColor, paint, uiColor } from "./colors.js";
import { COMPACT, FULL, compactLayout, fullLayout } from "./diagramlayout.js";
import { activeAbove } from "./engine.js";
import { layerName, neuronName } from "./numbering.js";
import { num, pct, t } from "./i18n.js";
import { drawCircuit, drawPicked } from "./circuitdraw.js";

const TOUCH_PX = 24;  // WCAG 2.5.8's smallest target, in CSS px

export class Diagram {
  // onPick(layer, index): a neuron clicked (null: nothing to pick, the tip only); onLayer(layer):
  // a touch landed on a layer whose squares are too small to aim at
  constructor(canvas, tip, onPick, onLayer = null, { compact = false } = {}) {
    this.canvas = canvas; this.tip = tip; this.onPick = onPick; this.onLayer = onLayer;
    this.compact = compact; this.at = compact ? COMPACT : FULL;
    canvas.dataset.diagram = compact ? "compact" : "full";  // which picture this is (tests read it)
    this.layout = null; this.data = null; this.selected = null; this.knocked = () => false;
    this.inputCanvas = null;  // the input image at its own size, drawn scaled up
    this.classNames = []; this.circuit = null;
    this.picked = [];  // neurons picked to patch (why.js): dashed squares
    this.views = {};  // hidden layer -> { n, values, selected, title(), subtitle(), name(i) }
    canvas.addEventListener("click", (e) => {
      const hit = this.hit(e);
      if (!hit || hit.layer < 0 || !this.onPick) return;
      this.tip.hidden = true;  // the inspector answers now (a tap leaves no mouseleave to hide it)
      const c = this.layout.cols[hit.ci], small = (c.out ? c.gap : c.cell) * this.scale() < TOUCH_PX;
      if (e.pointerType === "touch" && small && this.onLayer && !this.views[hit.layer]) this.onLayer(hit.layer);
      else this.onPick(hit.layer, hit.index);
    });
    canvas.addEventListener("mousemove", (e) => this.hover(e));
    canvas.addEventListener("mouseleave", () => { this.tip.hidden = true; });
    // a new width (a turned phone, a resized window, the tab shown): lay out again and redraw
    this.width = 0;
    new ResizeObserver(() => {
      const w = this.room();
      if (!this.sizes || !w || w === this.width) return;
      const last = this.lastDraw, circuit = this.circuit;  // the same model: its picture stays
      this.setModel(this.sizes, this.classNames, this.activations, this.shape);
      this.circuit = circuit;
      if (last) this.draw(...last);
    }).observe(canvas.parentElement);
  }

  // the CSS width the diagram's box offers (0 while it is hidden)
  room() { return Math.floor(this.canvas.parentElement.clientWidth); }

  // Columns: the input image (28×28 for MNIST), hidden layers as tall grids, output as a
  // column of one circle per class.
  setModel(sizes, classNames, activations = [], shape = [28, 28]) {
    this.sizes = sizes; this.classNames = classNames; this.activations = activations;
    this.shape = shape;
    this.data = null; this.lastDraw = null; this.tip.hidden = true;  // the former model's numbers fit no longer
    this.circuit = null;
    const room = this.room() || (this.compact ? 390 : 1100);
    this.width = this.room();
    this.layout = this.compact ? compactLayout(this, room) : fullLayout(this, room);
    const { W, H } = this.layout, dpr = Math.max(1, window.devicePixelRatio || 1);
    this.canvas.width = W * dpr; this.canvas.height = H * dpr;
    this.canvas.style.width = `${W}px`;
    this.canvas.style.maxWidth = "none";
    this.dpr = dpr;
  }

  // CSS pixels of the page per layout pixel (the canvas shrinks to fit narrow screens)
  scale() { return this.canvas.getBoundingClientRect().width / this.layout.W || 1; }

  // viewport coordinates of a neuron (for tests and benchmarks)
  clientPoint(colIndex, i) {
    const [x, y] = this.pos(colIndex, i), r = this.canvas.getBoundingClientRect(), k = this.scale();
    return [r.left + x * k, r.top + y * k];
  }

  pos(colIndex, i) {
    const c = this.layout.cols[colIndex];
    if (c.out) return [c.x + 12, c.y + c.gap * (i + 0.5)];
    const r = Math.floor(i / c.cols), k = i % c.cols;
    return [c.x + (k + 0.5) * c.cell, c.y + (r + 0.5) * c.cell];
  }

  draw(data, selected, knocked) {
    this.data = data; this.selected = selected; this.knocked = knocked;
    this.lastDraw = [data, selected, knocked];
    if (!this.layout || data.activations.length !== this.layout.cols.length - 1) return;
    const { W, H, cols } = this.layout, ctx = this.canvas.getContext("2d");
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.fillStyle = this.ui().card; ctx.fillRect(0, 0, W, H);
    // lines first, under the neurons
    (data.flow || []).forEach((conns, l) => {
      if (!conns.length || this.views[l - 1] || this.views[l]) return;  // no lines to a view
      const peak = Math.abs(conns[0][2]) || 1;
      for (let k = conns.length - 1; k >= 0; k--) {
        const [i, j, v] = conns[k], t = Math.abs(v) / peak;
        const [x0, y0] = this.pos(l, i), [x1, y1] = this.pos(l + 1, j);
        ctx.strokeStyle = css(divergingColor(Math.sign(v) * (0.35 + 0.65 * t)));
        ctx.globalAlpha = (0.25 + 0.6 * t) * (this.circuit ? 0.3 : 1);  // faint under a circuit
        ctx.lineWidth = 0.6 + 2.6 * t;
        ctx.beginPath(); ctx.moveTo(x0, y0);
        ctx.bezierCurveTo((x0 + x1) / 2, y0, (x0 + x1) / 2, y1, x1, y1); ctx.stroke();
      }
      ctx.globalAlpha = 1;
    });
    cols.forEach((c, ci) => {
      const values = ci === 0 ? data.input : this.views[c.layer]?.values ?? data.activations[ci - 1];
      if (c.out) return this.drawOutput(ctx, c, data);
      ctx.fillStyle = this.ui().ground;  // the grid's ground; also hides the lines' tails inside it
      if (ci > 0) ctx.fillRect(c.x - 1, c.y - 1, c.w + 2, c.h + 2);
      let peak = 0, firing = 0;
      // active: above what the activation gives for z = 0 (analysis/activity.py); ink: above 0
      const act = ci === 0 ? "input" : this.activations[ci - 1];
      const cut = ci === 0 || !act ? 0 : activeAbove(act, c.n);
      for (let i = 0; i < c.n; i++) {
        const v = values[i];
        if (v > peak) peak = v;
        if (v > cut) firing++;
      }
      if (ci === 0) {  // the input as an image, scaled up without smoothing (one draw call)
        paint(this.inputCanvas ||= document.createElement("canvas"), values, this.shape[1], this.shape[0], "gray");
        ctx.imageSmoothingEnabled = false;
        ctx.drawImage(this.inputCanvas, c.x, c.y, c.w, c.h);
      }
      const inset = Math.max(0.5, c.cell * 0.08), side = c.cell - 2 * inset;
      for (let i = 0; ci > 0 && i < c.n; i++) {
        const r = Math.floor(i / c.cols), k = i % c.cols;
        const x = c.x + k * c.cell, y = c.y + r * c.cell;
        ctx.fillStyle = ACT_CSS[activationStep(peak > 0 ? values[i] / peak : 0)];
        ctx.fillRect(x + inset, y + inset, side, side);
        if (knocked(c.layer, i) && !this.views[c.layer]) this.cross(ctx, x, y, c.cell);
      }
      ctx.fillStyle = this.ui().ink; this.font(ctx, 600, 12.5);
      ctx.textAlign = "center";
      ctx.fillText(this.title(c), c.x + c.w / 2, this.at.titleY);
      ctx.fillStyle = this.ui().muted; this.font(ctx, 400, 12);
      ctx.fillText(this.subtitle(c, firing, cut), c.x + c.w / 2, this.at.subY);
      const mark = this.views[c.layer] ? this.views[c.layer].selected ?? null
        : selected && selected.layer === c.layer ? selected.index : null;
      if (mark !== null && ci > 0) {
        const r = Math.floor(mark / c.cols), k = mark % c.cols;
        ctx.strokeStyle = this.ui().focus; ctx.lineWidth = 2.5;
        ctx.strokeRect(c.x + k * c.cell - 1.5, c.y + r * c.cell - 1.5, c.cell + 3, c.cell + 3);
      }
    });
    if (this.circuit) drawCircuit(this, this.unviewed(this.circuit));
    drawPicked(this, this.picked);
  }

  // the UI colours the diagram draws with (colors.css), read on the canvas (a notebook widget has
  // them on its root, not the page's :root) once the stylesheet is there
  ui() {
    if (this.uiColors && this.uiColors.ink) return this.uiColors;
    const c = (name) => uiColor(name, this.canvas, "");
    this.uiColors = { card: c("card"), ground: c("ground"), ink: c("ink"), muted: c("muted"), focus: c("focus"),
                      black: c("black"), ring: c("ring"), white: c("white") };
    return this.uiColors;
  }

  // a circuit to ring on every redraw (circuitdraw.js), or null
  showCircuit(c) {
    this.circuit = c;
    if (this.lastDraw) this.draw(...this.lastDraw);
  }

  // neurons picked to patch ([{layer, neuron}]), marked on every redraw (circuitdraw.js)
  showPicked(picked) {
    this.picked = picked;
    if (this.lastDraw) this.draw(...this.lastDraw);
  }

  title(c) {
    if (this.views[c.layer]) return this.views[c.layer].title();
    if (this.compact) return c.layer < 0 ? t("diagram.inputShort") : t("diagram.layerShort", { l: c.layer });
    return c.layer < 0 ? t("diagram.input", { field: `${this.shape[0]}×${this.shape[1]}` }) : layerName(c.layer, this.sizes.length - 1);
  }

  // a circuit less its neurons and signals in layers shown through a view
  unviewed(c) {
    const seen = (l) => !this.views[l];
    return { ...c, nodes: c.nodes.filter((d) => seen(d.layer)),
             edges: c.edges.filter((e) => seen(e.layer) && seen(e.layer - 1)) };
  }

  // a view of a layer shown instead of its neurons (features.js), or null for its neurons
  setView(layer, view) {
    if (view) this.views[layer] = view; else delete this.views[layer];
    if (!this.sizes) return;
    const [last, circuit] = [this.lastDraw, this.circuit];
    this.setModel(this.sizes, this.classNames, this.activations, this.shape);
    this.circuit = circuit;
    if (last) this.draw(...last);
  }

  subtitle(c, firing, cut) {
    if (this.views[c.layer]) return this.views[c.layer].subtitle();
    if (this.compact) {
      return t(c.layer < 0 ? "diagram.inkedShort" : "diagram.activeShort", { n: num(c.layer < 0 ? firing : c.n), k: num(firing) });
    }
    return c.layer < 0 ? t("diagram.inked", { n: num(firing) })
      : t(cut ? "diagram.activeAbove" : "diagram.active", { k: num(firing), n: num(c.n), cut: num(+cut.toFixed(3)) });
  }

  // Every label goes through here, so the smallest size drawn is known (tests read it).
  font(ctx, weight, px) {
    ctx.font = `${weight} ${px}px system-ui, sans-serif`;
    this.smallest = Math.min(this.smallest ?? Infinity, px);
  }

  // the smallest label as it appears on screen, in CSS px
  smallestTextPx() { return (this.smallest ?? Infinity) * this.scale(); }

  cross(ctx, x, y, s) {
    ctx.fillStyle = this.ui().focus; ctx.fillRect(x, y, s, s);
    ctx.strokeStyle = this.ui().black; ctx.lineWidth = 1.2;
    ctx.beginPath(); ctx.moveTo(x + 2, y + 2); ctx.lineTo(x + s - 2, y + s - 2);
    ctx.moveTo(x + s - 2, y + 2); ctx.lineTo(x + 2, y + s - 2); ctx.stroke();
  }

  drawOutput(ctx, c, data) {
    const probs = data.probabilities, radius = Math.min(12, c.gap * 0.42);
    ctx.fillStyle = this.ui().ink; this.font(ctx, 600, 12.5); ctx.textAlign = "center";
    ctx.fillText(t("diagram.output"), this.compact ? c.x + c.w / 2 : c.x + 12, this.at.titleY);
    ctx.fillStyle = this.ui().muted; this.font(ctx, 400, 12);
    ctx.fillText(t("diagram.probability"), this.compact ? c.x + c.w / 2 : c.x + 30, this.at.subY);
    for (let i = 0; i < c.n; i++) {
      const [x, y] = this.pos(this.layout.cols.length - 1, i);
      ctx.beginPath(); ctx.arc(x, y, radius, 0, 2 * Math.PI);
      ctx.fillStyle = css(activationColor(probs[i])); ctx.fill();
      const sel = this.selected && this.selected.layer === c.layer && this.selected.index === i;
      ctx.lineWidth = sel ? 2.5 : 1; ctx.strokeStyle = sel ? this.ui().focus : this.ui().ring; ctx.stroke();
      // a digit fits in its circle; a longer class name goes beside it, before the probability
      const name = String(this.classNames[i] ?? i), inside = name.length <= 2;
      ctx.fillStyle = probs[i] > 0.55 ? this.ui().ink : this.ui().white;
      this.font(ctx, data.prediction === i ? 700 : 500, 12);
      ctx.textAlign = "center"; ctx.textBaseline = "middle";
      if (inside) ctx.fillText(name, x, y + 0.5);
      ctx.textAlign = "left";
      let tx = x + radius + 6;
      if (!inside) {
        const short = name.length > 12 ? `${name.slice(0, 11)}…` : name;
        ctx.fillStyle = this.ui().ink;
        ctx.fillText(short, tx, y + 0.5);
        tx += ctx.measureText(short).width + 5;
      }
      ctx.fillStyle = this.ui().muted; this.font(ctx, 400, 12);
      if (data.has_ink !== false) ctx.fillText(pct(probs[i], this.compact ? 0 : 1), tx, y + 0.5);
      ctx.textBaseline = "alphabetic";
    }
  }

  hit(e) {
    if (!this.layout) return null;
    const r = this.canvas.getBoundingClientRect(), k = this.scale();
    const x = (e.clientX - r.left) / k, y = (e.clientY - r.top) / k;
    const cols = this.layout.cols;
    for (let ci = 0; ci < cols.length; ci++) {
      const c = cols[ci];
      if (c.out) {  // the nearest circle within reach (reach grows as the diagram shrinks)
        let best = null, bestD = Math.max(14, 18 / k) ** 2;
        for (let i = 0; i < c.n; i++) {
          const [px, py] = this.pos(ci, i), d = (x - px) ** 2 + (y - py) ** 2;
          if (d <= bestD) { best = { layer: c.layer, index: i, ci }; bestD = d; }
        }
        if (best) return best;
        continue;
      }
      if (x < c.x || y < c.y || x >= c.x + c.w || y >= c.y + c.h) continue;
      const col = Math.floor((x - c.x) / c.cell), row = Math.floor((y - c.y) / c.cell);
      const i = row * c.cols + col;
      if (i < c.n) return { layer: c.layer, index: i, ci };
    }
    return null;
  }

  hover(e) {
    const h = this.hit(e);
    if (!h || !this.data) { this.tip.hidden = true; this.canvas.style.cursor = "default"; return; }
    this.canvas.style.cursor = h.layer >= 0 && this.onPick ? "pointer" : "default";
    const view = this.views[h.layer];
    if (view && view.name(h.index) === null) { this.tip.hidden = true; return; }  // an empty square
    const v = h.ci === 0 ? this.data.input[h.index] : (view?.values ?? this.data.activations[h.ci - 1])[h.index];
    const out = h.ci === this.layout.cols.length - 1;
    const name = view ? view.name(h.index) : h.ci === 0 ? t("insp.pixel", { r: Math.floor(h.index / this.shape[1]), c: h.index % this.shape[1] })
      : `${neuronName(h.layer, h.index)}${out ? t("diagram.class", { name: this.classNames[h.index] ?? h.index }) : ""}`;
    const r = this.canvas.getBoundingClientRect();
    this.tip.textContent = `${name}: ${num(v, 3)}${h.layer >= 0 && this.onPick ? t("diagram.clickTip") : ""}`;
    this.tip.hidden = false;  // kept inside the diagram (a phone has no room beside it)
    const left = Math.min(e.clientX - r.left + 14, r.width - this.tip.offsetWidth - 2);
    this.tip.style.left = `${Math.max(0, left)}px`;
    this.tip.style.top = `${e.clientY - r.top + 10}px`;
  }
}
