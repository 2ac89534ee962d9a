// Choosing a neuron without aiming at a 4-pixel square: one button per layer under the diagram
// opens that layer enlarged, as a grid of buttons at least 28 CSS px wide (WCAG 2.5.8 asks 24),
// each shaded by its activation and named for a screen reader ("neuron 0:5, value 0.83").
// A tap on the diagram where its squares are too small for a finger opens the same grid.

import { ACT_CSS, activationStep } from "./colors.js";
import { layerName, neuronName } from "./numbering.js";
import { t } from "./i18n.js";

export class LayerPicker {
  // bar: element for the layer buttons; panel: element for the enlarged layer;
  // onPick(layer, index) opens the inspector
  constructor(bar, panel, onPick) {
    this.bar = bar; this.panel = panel; this.onPick = onPick;
    this.sizes = null; this.names = []; this.open = null; this.data = null;
    panel.addEventListener("keydown", (e) => { if (e.key === "Escape") this.close(true); });
  }

  setModel(sizes, classNames) {
    this.sizes = sizes; this.names = classNames; this.close(false);
    const n = sizes.length - 1;
    this.bar.innerHTML = "";
    const label = document.createElement("span");
    label.textContent = t("pick.label");
    this.bar.appendChild(label);
    for (let l = 0; l < n; l++) {
      const b = document.createElement("button");
      b.type = "button";
      b.setAttribute("data-testid", `layer-open-${l}`);
      b.setAttribute("aria-expanded", "false");
      b.textContent = `${layerName(l, n)} · ${sizes[l + 1]}`;
      b.title = t("pick.title", { layer: layerName(l, n) });
      b.addEventListener("click", () => (this.open === l ? this.close(true) : this.show(l)));
      this.bar.appendChild(b);
    }
  }

  // New numbers: the open grid's shades follow them.
  update(data) { this.data = data; if (this.open !== null) this.shade(); }

  show(layer) {
    this.open = layer;
    const n = this.sizes.length - 1, out = layer === n - 1;
    for (const b of this.bar.querySelectorAll("button")) {
      b.setAttribute("aria-expanded", String(b.dataset.testid === `layer-open-${layer}`));
    }
    this.panel.innerHTML = "";
    const head = document.createElement("p");
    head.className = "hint";
    head.textContent = t("pick.head", { layer: layerName(layer, n) });
    const close = document.createElement("button");
    close.type = "button"; close.textContent = t("insp.close"); close.className = "png";
    close.addEventListener("click", () => this.close(true));
    head.appendChild(close);
    const grid = document.createElement("div");
    grid.className = "layer-grid";
    grid.setAttribute("role", "group");
    grid.setAttribute("aria-label", t("pick.gridAria", { layer: layerName(layer, n) }));
    for (let i = 0; i < this.sizes[layer + 1]; i++) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = out ? "neuron out" : "neuron";
      if (out) b.textContent = this.names[i] ?? String(i);
      b.setAttribute("data-testid", `pick-${layer}-${i}`);
      b.addEventListener("click", () => { this.close(false); this.onPick(layer, i); });
      grid.appendChild(b);
    }
    this.panel.append(head, grid);
    this.panel.hidden = false;
    this.shade();
    /** @type {HTMLElement | null} */ (grid.firstElementChild)?.focus();
  }

  shade() {
    const grid = this.panel.querySelector(".layer-grid");
    if (!grid) return;
    const values = this.data?.activations?.[this.open];
    let peak = 0;
    for (const v of values ?? []) if (v > peak) peak = v;
    [...grid.children].forEach((b, i) => {
      const v = values ? values[i] : null, step = activationStep(peak > 0 && v !== null ? v / peak : 0);
      if (!b.classList.contains("out")) b.style.background = ACT_CSS[step];
      else b.style.borderColor = ACT_CSS[step];
      const what = this.open === this.sizes.length - 2 ? ` (class ${this.names[i] ?? i})` : "";
      b.setAttribute("aria-label", `${neuronName(this.open, i)}${what}` +
        (v === null ? "" : `, value ${v.toFixed(2)}`));
      b.title = b.getAttribute("aria-label");
    });
  }

  close(refocus) {
    const was = this.open;
    this.open = null;
    this.panel.hidden = true;
    this.panel.innerHTML = "";
    for (const b of this.bar.querySelectorAll("button")) b.setAttribute("aria-expanded", "false");
    if (refocus && was !== null) this.bar.querySelector(`[data-testid="layer-open-${was}"]`)?.focus();
  }
}
