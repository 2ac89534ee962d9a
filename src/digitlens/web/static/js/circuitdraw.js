// A circuit (POST /api/circuit) drawn onto the network diagram: its neurons ringed (thicker
// for a larger effect on the gap), the signals a·w between them as lines, and each ringed
// neuron of the last hidden layer tied to the class it explains. Drawn after every redraw of
// the diagram until cleared; it draws the server's numbers and computes nothing. Neurons
// picked to patch get dashed squares.

import { css, divergingColor, uiColor } from "./colors.js";

// colors.css's --circuit: not a diverging colour, the rings must stand out of every palette
const RING = () => uiColor("circuit");

/** Rings and lines for circuit `c` ({nodes, edges, target}) over `diagram` as it stands. */
export function drawCircuit(diagram, c) {
  if (!diagram.layout || !c) return;
  const ctx = diagram.canvas.getContext("2d"), cols = diagram.layout.cols;
  const last = cols.length - 2, peak = Math.max(1e-9, ...c.nodes.map((d) => Math.abs(d.effect)));
  const vpeak = Math.max(1e-9, ...c.edges.map((e) => Math.abs(e.value)));
  ctx.save();
  ctx.setTransform(diagram.dpr, 0, 0, diagram.dpr, 0, 0);
  const line = (x0, y0, x1, y1) => {
    ctx.beginPath(); ctx.moveTo(x0, y0);
    ctx.bezierCurveTo((x0 + x1) / 2, y0, (x0 + x1) / 2, y1, x1, y1); ctx.stroke();
  };
  for (const e of c.edges) {  // hidden layer e.layer − 1 → hidden layer e.layer
    if (e.layer + 1 > last) continue;
    const t = Math.abs(e.value) / vpeak;
    if (t < 0.05) continue;
    ctx.strokeStyle = css(divergingColor(Math.sign(e.value) * (0.35 + 0.65 * t)));
    ctx.globalAlpha = 0.35 + 0.6 * t; ctx.lineWidth = 0.8 + 2.4 * t;
    line(...diagram.pos(e.layer, e.from), ...diagram.pos(e.layer + 1, e.to));
  }
  ctx.globalAlpha = 0.8; ctx.strokeStyle = RING(); ctx.lineWidth = 1.5;
  const [tx, ty] = diagram.pos(cols.length - 1, c.target);
  for (const d of c.nodes) {
    if (d.layer === last - 1 && d.effect > 0) line(...diagram.pos(last, d.neuron), tx - 14, ty);
  }
  ctx.globalAlpha = 1;
  for (const d of c.nodes) {
    const col = cols[d.layer + 1];
    if (!col || col.out) continue;
    const [x, y] = diagram.pos(d.layer + 1, d.neuron), t = Math.abs(d.effect) / peak;
    ctx.lineWidth = Math.max(1.5, col.cell * (0.12 + 0.18 * t));
    ctx.strokeStyle = RING();
    const s = col.cell + ctx.lineWidth;
    ctx.strokeRect(x - s / 2, y - s / 2, s, s);
  }
  const oc = cols[cols.length - 1];
  ctx.lineWidth = 3; ctx.strokeStyle = RING();
  ctx.beginPath(); ctx.arc(tx, ty, Math.min(12, oc.gap * 0.42) + 3, 0, 2 * Math.PI); ctx.stroke();
  ctx.restore();
}

/** Dashed squares around the neurons picked to patch (why.js), [{layer, neuron}], over `diagram`. */
export function drawPicked(diagram, picked) {
  if (!diagram.layout || !picked?.length) return;
  const ctx = diagram.canvas.getContext("2d"), cols = diagram.layout.cols;
  ctx.save();
  ctx.setTransform(diagram.dpr, 0, 0, diagram.dpr, 0, 0);
  ctx.strokeStyle = RING(); ctx.setLineDash([3, 2]);
  for (const d of picked) {
    const col = cols[d.layer + 1];
    if (!col || col.out || diagram.views[d.layer]) continue;
    const [x, y] = diagram.pos(d.layer + 1, d.neuron);
    ctx.lineWidth = Math.max(1.5, col.cell * 0.25);
    const s = col.cell + 2 * ctx.lineWidth;
    ctx.strokeRect(x - s / 2, y - s / 2, s, s);
  }
  ctx.restore();
}
