// The error signal of a gradient step drawn onto the network diagram: each neuron of the
// layers the signal has reached gets a ring coloured by its δ (red: its sum should go down,
// blue: up; each layer scaled to its largest), over the diagram as it stands. The diagram's
// next redraw clears it. It draws the engine's numbers; it computes nothing.

import { css, divergingColor, maxAbs } from "./colors.js";

/** Rings for layers `from`..output of `deltas` (one Float64Array per weight layer). */
export function drawSignal(diagram, deltas, from) {
  if (!diagram.layout || diagram.layout.cols.length !== deltas.length + 1) return;
  const ctx = diagram.canvas.getContext("2d"), cols = diagram.layout.cols;
  ctx.setTransform(diagram.dpr, 0, 0, diagram.dpr, 0, 0);
  for (let l = from; l < deltas.length; l++) {
    const c = cols[l + 1], d = deltas[l], peak = maxAbs(d);
    if (diagram.views[c.layer]) continue;  // a layer shown as features: no neurons to ring
    ctx.lineWidth = c.out ? 3 : Math.max(1.5, c.cell * 0.22);
    for (let i = 0; i < d.length; i++) {
      const t = d[i] / peak;
      if (Math.abs(t) < 0.05) continue;  // no visible signal: leave the neuron as it is
      ctx.strokeStyle = css(divergingColor(Math.sign(t) * (0.35 + 0.65 * Math.abs(t))));
      const [x, y] = diagram.pos(l + 1, i);
      if (c.out) {
        ctx.beginPath(); ctx.arc(x, y, Math.min(12, c.gap * 0.42) + 2.5, 0, 2 * Math.PI); ctx.stroke();
      } else {
        const s = c.cell - ctx.lineWidth;
        ctx.strokeRect(x - s / 2, y - s / 2, s, s);
      }
    }
  }
}
