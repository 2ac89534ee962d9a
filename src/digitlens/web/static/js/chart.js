// The one chart of training: test accuracy against epochs, grid lines every 20 %, the epochs
// labelled along the bottom. The explorer's Train tab draws it (train.js) and so does the
// notebook's dl.TrainingMonitor (notebook/static/monitor.js, through PAGE.chart).

import { uiColor } from "./colors.js";
import { pct, t } from "./i18n.js";

/**
 * Draw `points` ({epoch, accuracy}, accuracy in 0..1) on `canvas`, the x axis running to
 * `total` epochs (or the last point's, if further). The colours are colors.css's, read on
 * `root` (a notebook widget keeps them on its own root; null: the page's).
 * @param {HTMLCanvasElement} canvas
 * @param {{epoch: number, accuracy: number}[]} points
 * @param {number} total
 * @param {Element | null} [root]
 */
export function accuracyChart(canvas, points, total, root = null) {
  // "" (no stylesheet to read yet, a widget not on the page): the canvas keeps its colour
  const ctx = canvas.getContext("2d"), ui = (name) => uiColor(name, root, "");
  const W = canvas.width, H = canvas.height, L = 40, B = 24;
  ctx.clearRect(0, 0, W, H);
  if (ui("card")) { ctx.fillStyle = ui("card"); ctx.fillRect(0, 0, W, H); }
  ctx.strokeStyle = ui("line"); ctx.fillStyle = ui("muted"); ctx.font = "12px system-ui";
  ctx.lineWidth = 1;
  for (let p = 0; p <= 100; p += 20) {
    const y = H - B - (H - B - 10) * p / 100;
    ctx.beginPath(); ctx.moveTo(L, y); ctx.lineTo(W - 8, y); ctx.stroke();
    ctx.fillText(pct(p / 100), 4, y + 4);
  }
  const n = Math.max(total || 1, points.at(-1)?.epoch ?? 0, 1);
  const px = (e) => L + (W - L - 12) * e / n, py = (a) => H - B - (H - B - 10) * a;
  const step = [1, 2, 5, 10, 20, 25, 50, 100].find((s) => n / s <= 8) || 100;
  ctx.textAlign = "center";
  for (let e = 0; e <= n; e += step) ctx.fillText(String(e), px(e), H - 8);
  if (n % step) ctx.fillText(String(n), px(n), H - 8);
  ctx.textAlign = "right"; ctx.fillText(t("train.epochAxis"), W - 8, H - 20); ctx.textAlign = "left";
  ctx.strokeStyle = ui("teal"); ctx.lineWidth = 2; ctx.beginPath();
  points.forEach((q, i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, px(q.epoch), py(q.accuracy)));
  ctx.stroke();
  ctx.fillStyle = ui("accent");
  for (const q of points) { ctx.beginPath(); ctx.arc(px(q.epoch), py(q.accuracy), 3, 0, 7); ctx.fill(); }
}
