// A convolutional network's card: every convolution's and pooling's channels as small pictures,
// repainted on every change of the drawing (black 0, white the layer's largest value for this
// input, as `digitlens render feature-maps` draws them), each convolution's kernels as red/blue
// pictures around zero (one colour scale per layer, as `digitlens render filters`), and a click
// on a map opening the inspector of that unit (convinspect.js). Only draws: convnet.js computes.

import { paint, maxAbs } from "./colors.js";
import { layerName, renderUnit } from "./convinspect.js";
import { t, tn } from "./i18n.js";

const el = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
};

export class FeatureMaps {
  /**
   * root: the card's maps container; inspector: the inspector's element; on: { knockout(layer,
   * channel) toggles a channel, outline(field, answer) rings the unit's receptive field on the
   * drawing (null: none) }.
   */
  constructor(root, inspector, on) {
    this.root = root; this.inspector = inspector; this.on = on;
    this.net = null; this.canvases = []; this.unit = null; this.last = null;
  }

  /** Build the panel for `net` (a ConvNet): one row of channel pictures per map layer. */
  setNet(net) {
    this.net = net; this.unit = null; this.canvases = [];
    this.inspector.hidden = true;
    this.root.replaceChildren();
    for (const layer of net.mapLayers) {
      const spec = net.layers[layer], [c, h, w] = net.shapes[layer + 1];
      const what = spec.kind === "conv"
        ? tn("cnn.convWhat", net.shapes[layer][0], { k: spec.k })
        : t(`cnn.poolWhat.${spec.type}`, { k: spec.k });
      const head = el("h3", {}, `${layerName(net, layer)} · `, el("span", { className: "hint", textContent: `${tn("cnn.maps", c)} ${h}×${w} · ${what}` }));
      const grid = el("div", { className: "cnn-grid" });
      const row = [];
      for (let ch = 0; ch < c; ch++) {
        const canvas = el("canvas", { width: w, height: h });
        canvas.style.width = `${Math.round(Math.min(72, Math.max(36, w * 4)))}px`;
        const button = el("button", { type: "button", className: "cnn-map", title: t("cnn.mapTitle", { layer: layerName(net, layer), c: ch + 1 }) },
                          canvas, el("span", { className: "cnn-label", textContent: String(ch + 1) }));
        button.dataset.testid = `cnn-map-${layer}-${ch}`;
        button.setAttribute("aria-label", t("cnn.mapAria", { layer: layerName(net, layer), c: ch + 1 }));
        button.addEventListener("click", (e) => this.pickAt(layer, ch, canvas, e));
        grid.append(button); row.push(canvas);
      }
      this.canvases[layer] = row;
      const section = el("section", { className: "cnn-layer" }, head, grid);
      if (spec.kind === "conv") section.append(this.kernels(layer));
      this.root.append(section);
    }
  }

  // A convolution's kernels: for a first layer one picture each; for a layer reading several
  // channels one row per kernel, one picture per channel it reads.
  kernels(layer) {
    const net = this.net, spec = net.layers[layer], nIn = net.shapes[layer][0], k = spec.k;
    const w = net.params[layer].w, scale = maxAbs(w), per = k * k;
    const box = el("details", { className: "cnn-kernels" });
    box.open = nIn === 1;
    box.append(el("summary", { textContent: tn("cnn.kernels", nIn, { out: spec.out, k }) }));
    const grid = el("div", { className: nIn === 1 ? "cnn-kernel-row" : "cnn-kernel-rows" });
    for (let o = 0; o < spec.out; o++) {
      const row = el("div", { className: "cnn-kernel" });
      row.append(el("span", { className: "cnn-label", textContent: String(o + 1) }));
      for (let ci = 0; ci < nIn; ci++) {
        const canvas = el("canvas", { width: k, height: k });
        canvas.setAttribute("role", "img");
        canvas.setAttribute("aria-label", t("cnn.kernelAria", { o: o + 1, c: ci + 1 }));
        const off = (o * nIn + ci) * per;
        paint(canvas, w.subarray(off, off + per), k, k, "diverging", scale);
        row.append(canvas);
      }
      grid.append(row);
    }
    box.append(grid, el("p", { className: "hint", textContent: t("cnn.kernelHint") }));
    return box;
  }

  // A click on a map picks the unit under the pointer; Enter or Space (no pointer position)
  // the unit that fires hardest in that channel.
  pickAt(layer, channel, canvas, event) {
    const [, h, w] = this.net.shapes[layer + 1];
    let row, col;
    if (event.detail > 0 && event.clientX !== undefined) {
      const r = canvas.getBoundingClientRect();
      row = Math.min(h - 1, Math.max(0, Math.floor((event.clientY - r.top) / r.height * h)));
      col = Math.min(w - 1, Math.max(0, Math.floor((event.clientX - r.left) / r.width * w)));
    } else {
      const maps = this.last?.trace.outputs[layer + 1], base = channel * h * w;
      let best = 0;
      if (maps) for (let i = 1; i < h * w; i++) if (maps[base + i] > maps[base + best]) best = i;
      row = Math.floor(best / w); col = best % w;
    }
    this.select({ layer, channel, row, col });
  }

  select(unit) {
    this.unit = unit;
    this.inspector.hidden = false;
    this.show();  // keeps the focus on a control of the inspector (a move), else takes it
    if (!this.inspector.contains(document.activeElement)) this.inspector.querySelector("h3")?.focus();
  }

  close() { this.unit = null; this.inspector.hidden = true; this.show(); }

  /** Repaint every map from a traced answer ({trace, input, has_ink}). */
  update(answer) {
    this.last = answer;
    const net = this.net;
    if (!net) return;
    for (const layer of net.mapLayers) {
      const [, h, w] = net.shapes[layer + 1], maps = answer.trace.outputs[layer + 1], per = h * w;
      let top = 0;
      for (const v of maps) if (v > top) top = v;
      if (!answer.has_ink) top = Infinity;  // nothing drawn: nothing lit (the biases alone are no answer)
      const off = answer.trace.masks.get(layer);
      this.canvases[layer].forEach((canvas, ch) => {
        paint(canvas, maps.subarray(ch * per, (ch + 1) * per), w, h, "act", top || 1);
        canvas.parentElement.classList.toggle("off", off?.[ch] === 1);
      });
    }
    this.show();
  }

  // the selected unit ringed on its map, and the inspector's numbers for this input
  show() {
    for (const b of this.root.querySelectorAll(".cnn-map.chosen")) b.classList.remove("chosen");
    this.root.querySelector(".cnn-spot")?.remove();
    if (!this.unit || !this.last) { this.on.outline?.(null, null); return; }
    const { layer, channel, row, col } = this.unit, canvas = this.canvases[layer][channel];
    canvas.parentElement.classList.add("chosen");
    // the chosen unit ringed on its map (the canvas is scaled up: a box of one map pixel)
    const [, h, w] = this.net.shapes[layer + 1], cw = canvas.clientWidth / w, ch = canvas.clientHeight / h;
    const spot = el("span", { className: "cnn-spot" });
    Object.assign(spot.style, { left: `${canvas.offsetLeft + col * cw - 1}px`, top: `${canvas.offsetTop + row * ch - 1}px`,
                                width: `${cw + 2}px`, height: `${ch + 2}px` });
    canvas.parentElement.append(spot);
    this.on.outline?.(this.net.receptiveField(layer, row, col), this.last);  // on the drawing too
    renderUnit(this.inspector, this.net, this.last, this.unit, {
      close: () => this.close(),
      move: (unit) => this.select(unit),
      knockout: () => this.on.knockout(layer, channel),
      knocked: this.last.trace.masks.get(layer)?.[channel] === 1,
    });
  }
}
