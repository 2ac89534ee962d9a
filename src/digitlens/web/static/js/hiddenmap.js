// The hidden-space map: one hidden layer's test digits projected on their two principal
// directions (GET api/map), and the current drawing as a point moving on it as you draw. PCA is
// linear, so the point is (activations − mean) · components, computed here from the activations
// the page already has
// (engine.js's project). Hovering the point lists the test digits nearest to the drawing in the
// layer itself (POST api/map/near); hovering elsewhere, the test digits under the cursor.

import { api, servedLocally } from "./api.js";
import { project } from "./engine.js";
import { paint, uiColor } from "./colors.js";
import { input } from "./state.js";
import { esc } from "./escape.js";
import { layerName } from "./numbering.js";
import { pct, t } from "./i18n.js";

// Indices of the k points nearest to p (squared distance on the map).
export function nearest(points, p, k = 5) {
  const best = [];
  for (let i = 0; i < points.length; i++) {
    const dx = points[i][0] - p[0], dy = points[i][1] - p[1], d = dx * dx + dy * dy;
    if (best.length < k || d < best[best.length - 1][0]) {
      best.push([d, i]); best.sort((a, b) => a[0] - b[0]); if (best.length > k) best.pop();
    }
  }
  return best.map((b) => b[1]);
}

export class HiddenMap {
  constructor(canvas, select, note, near) {
    this.canvas = canvas; this.select = select; this.note = note; this.near = near;
    this.map = null; this.point = null; this.run = null; this.updates = 0; this.last = null;
    this.background = document.createElement("canvas");
    select.addEventListener("change", () => this.load(this.run, +select.value));
    canvas.addEventListener("mousemove", (e) => this.hover(e));
    canvas.addEventListener("mouseleave", () => { this.near.innerHTML = ""; this.shown = null; });
  }

  async load(run, layer = null) {
    if (run !== this.run) this.last = null;  // another model's activations
    this.run = run; this.map = null; this.point = null;
    const hidden = run.sizes.length - 2;
    // the single-file explorer ships no test set to map
    this.canvas.closest(".card").hidden = hidden < 1 || servedLocally();
    if (hidden < 1 || servedLocally()) return;
    const L = layer ?? hidden - 1;
    this.select.innerHTML = "";
    for (let l = 0; l < hidden; l++) this.select.add(new Option(layerName(l, hidden + 1), String(l)));
    this.select.value = String(L);
    const m = await api(`api/map?run=${encodeURIComponent(run.name)}&layer=${L}`);
    if (this.run !== run) return;
    this.map = m;
    let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (const [x, y] of m.points) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
    const pad = 0.05 * Math.max(x1 - x0, y1 - y0, 1e-6);
    this.box = [x0 - pad, x1 + pad, y0 - pad, y1 + pad];
    this.note.textContent = t("map.note", { name: layerName(m.layer, hidden + 1), p: pct(m.separation, 1),
                                            pc1: pct(m.explained_ratio[0]), pc2: pct(m.explained_ratio[1]) });
    const legend = document.createElement("span");  // which colour is which class
    legend.className = "map-legend"; legend.dataset.testid = "map-legend";
    run.class_names.forEach((name, k) => {
      const item = document.createElement("span"), sw = document.createElement("i");
      sw.style.background = m.colours[k % m.colours.length];
      item.append(sw, name); legend.append(item);
    });
    this.note.append(legend);
    this.drawBackground();
    if (this.last) this.update(this.last); else this.draw();
  }

  /** @param {number[]} point a point of the map, [x, y] */
  toCanvas([x, y]) {
    const [x0, x1, y0, y1] = this.box, W = this.canvas.width, H = this.canvas.height;
    return [(x - x0) / (x1 - x0) * W, H - (y - y0) / (y1 - y0) * H];
  }

  fromCanvas([px, py]) {
    const [x0, x1, y0, y1] = this.box, W = this.canvas.width, H = this.canvas.height;
    return [x0 + px / W * (x1 - x0), y0 + (H - py) / H * (y1 - y0)];
  }

  drawBackground() {
    const b = this.background, m = this.map;
    b.width = this.canvas.width; b.height = this.canvas.height;
    const ctx = b.getContext("2d");
    ctx.fillStyle = uiColor("card"); ctx.fillRect(0, 0, b.width, b.height);
    ctx.globalAlpha = 0.55;
    m.points.forEach((p, i) => {
      const [x, y] = this.toCanvas(p);
      ctx.fillStyle = m.colours[m.labels[i] % m.colours.length];
      ctx.fillRect(x - 1, y - 1, 2, 2);
    });
    ctx.globalAlpha = 1;
  }

  // Called with every prediction: moves the drawing's point (no request).
  update(res) {
    this.last = res;
    const m = this.map;
    if (!m || !res.activations || !res.has_ink) { this.point = null; this.draw(); return; }
    this.point = project(res.activations[m.layer], m.mean, m.components);
    this.updates++;
    this.draw();
  }

  draw() {
    const ctx = this.canvas.getContext("2d");
    if (!this.map) { ctx.clearRect(0, 0, this.canvas.width, this.canvas.height); return; }
    ctx.drawImage(this.background, 0, 0);
    if (!this.point) return;
    const [x, y] = this.toCanvas(this.point);
    ctx.beginPath(); ctx.arc(x, y, 7, 0, 2 * Math.PI);
    ctx.fillStyle = uiColor("point"); ctx.fill();
    ctx.lineWidth = 3; ctx.strokeStyle = uiColor("white"); ctx.stroke();
  }

  pixel() { return this.point && this.map ? this.toCanvas(this.point) : null; }

  async hover(e) {
    if (!this.map) return;
    const r = this.canvas.getBoundingClientRect();
    const px = (e.clientX - r.left) * this.canvas.width / r.width;
    const py = (e.clientY - r.top) * this.canvas.height / r.height;
    const here = this.pixel();
    const onPoint = here && Math.hypot(here[0] - px, here[1] - py) < 14;
    const key = onPoint ? `point:${this.updates}` : nearest(this.map.points, this.fromCanvas([px, py]), 5).join(",");
    if (key === this.shown) return;
    this.shown = key;
    let idx, title;
    if (onPoint) {  // nearest in the layer itself (all its numbers), not on the flat map
      const m = this.map, acts = Array.from(this.last.activations[m.layer]);
      try {
        idx = (await api("api/map/near", { run: this.run.name, layer: m.layer, activations: acts })).indices;
      } catch { return; }
      if (this.shown !== key) return;
      title = t("map.nearest", { layer: layerName(m.layer, this.run.sizes.length - 1) });
    } else {
      idx = key.split(",").map(Number);
      title = t("map.here");
    }
    const names = this.run.class_names;
    this.near.innerHTML = `<span>${esc(title)}:</span>`;
    for (const i of idx) {
      const fig = document.createElement("figure"), c = document.createElement("canvas");
      [c.height, c.width] = input.shape; fig.append(c);
      const cap = document.createElement("figcaption");
      cap.textContent = `#${i} · ${names[this.map.labels[i]]}`; fig.append(cap);
      fig.dataset.index = i;
      this.near.append(fig);
      api("api/predict", { run: this.run.name, test_index: i, include: [] })
        .then((d) => { if (this.shown === key) paint(c, d.input, c.width, c.height, "gray"); }).catch(() => {});
    }
  }
}
