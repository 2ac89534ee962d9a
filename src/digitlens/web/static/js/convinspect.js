// The inspector of one unit of a convolutional network's feature map: where on the input it
// looks (its receptive field, outlined on the picture the network reads), its k×k×channels
// arithmetic with the real numbers (each input × its weight, the sum, the bias, z and the
// activation) or a pooling's tile, and a knock-out of its whole channel. Only draws: the
// numbers are convnet.js's (ConvNet.unit, ConvNet.receptiveField).

import { paint, uiColor } from "./colors.js";
import { num, t, tn } from "./i18n.js";

/** A layer's name for a learner: "convolution 1", "pooling 2" (counted per kind, from 1). */
export function layerName(net, layer) {
  const kind = net.layers[layer].kind;
  const n = net.layers.slice(0, layer + 1).filter((l) => l.kind === kind).length;
  return t(`cnn.${kind}Name`, { n });
}

const SCALE = 5;  // input pixels to canvas pixels
const el = (tag, props = {}, ...children) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
};
const testid = (e, id) => { e.dataset.testid = id; return e; };
const n3 = (v) => num(v, 3);

// What an open inspector keeps to refresh its numbers in place while the drawing changes
// (rebuilding it on every pointer move would cost more than the whole forward pass).
const KEPT = new WeakMap();
let scratch = null;

/** The picture the network reads, with `field` ({top, left, bottom, right}) outlined. */
function fieldPicture(net, input, field) {
  const [H, W] = net.inputShape, canvas = el("canvas", { width: W * SCALE, height: H * SCALE });
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", t("cnn.fieldAria", { r0: field.top + 1, r1: field.bottom + 1, c0: field.left + 1, c1: field.right + 1 }));
  testid(canvas, "cnn-field");
  paintField(canvas, net, input, field);
  return canvas;
}

function paintField(canvas, net, input, field) {
  const [H, W] = net.inputShape, small = (scratch ||= el("canvas"));
  paint(small, input.subarray(0, H * W), W, H, "gray");
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, W * SCALE, H * SCALE);
  ctx.strokeStyle = uiColor("focus"); ctx.lineWidth = 2;
  ctx.strokeRect(field.left * SCALE + 1, field.top * SCALE + 1,
                 (field.right - field.left + 1) * SCALE - 2, (field.bottom - field.top + 1) * SCALE - 2);
}

// One input channel's k×k window: each cell the input over its weight (a convolution) or the
// value alone (a pooling); a cell in the padding reads 0.
function windowTable(terms, k, withWeights, caption, cells) {
  const table = el("table", { className: "cnn-window" }, el("caption", { textContent: caption }));
  for (let i = 0; i < k; i++) {
    const tr = el("tr");
    for (let j = 0; j < k; j++) {
      const term = terms[i * k + j], td = el("td");
      if (term.inside === false) td.classList.add("pad");
      const value = el("span", { textContent: n3(term.input) });
      td.append(value);
      cells.push({ value, td });
      if (withWeights) {
        td.append(el("span", { className: term.weight >= 0 ? "w pos" : "w neg", textContent: `× ${n3(term.weight)}` }));
        td.title = `${n3(term.input)} × ${n3(term.weight)} = ${n3(term.product)}`;
      }
      tr.append(td);
    }
    table.append(tr);
  }
  return table;
}

function line(id, label, value, totals) {
  const b = el("b", { textContent: value });
  totals[id] = b;
  return testid(el("p", { className: "cnn-total" }, `${label} `, b), id);
}

// the kept inspector's numbers and picture for a new answer, the DOM left as it is
function refresh(kept, net, answer, u, field) {
  u.terms.forEach((term, i) => {
    const cell = kept.cells[i];
    cell.value.textContent = n3(term.input);
    if (term.weight !== undefined) cell.td.title = `${n3(term.input)} × ${n3(term.weight)} = ${n3(term.product)}`;
  });
  const per = u.k * u.k;
  kept.sums.forEach((p, ci) => {
    const sum = u.terms.slice(ci * per, (ci + 1) * per).reduce((s, x) => s + x.product, 0);
    p.textContent = t("cnn.channelSum", { s: n3(sum) });
  });
  const values = { "cnn-sum": u.sum, "cnn-bias": u.bias, "cnn-z": u.z, "cnn-value": u.result };
  for (const [id, b] of Object.entries(kept.totals)) b.textContent = n3(values[id]);
  paintField(kept.canvas, net, answer.trace.input, field);
}

/**
 * Fill `root` with unit {layer, channel, row, col} of `answer` (the page's traced answer):
 * actions: close(), move(unit), knockout(); knocked says whether its channel is off.
 */
export function renderUnit(root, net, answer, unit, actions) {
  const { layer, channel, row, col } = unit, [, h, w] = net.shapes[layer + 1];
  const active = /** @type {HTMLElement | null} */ (document.activeElement);
  const focused = active && root.contains(active) ? active.dataset.testid : null;
  const u = net.unit(answer.trace, layer, channel, row, col), field = net.receptiveField(layer, row, col);
  const key = `${net.layers.length}:${layer}:${channel}:${row}:${col}:${answer.has_ink}:${actions.knocked}:${document.documentElement.dataset.palette}`;
  const kept = KEPT.get(root);
  if (kept && kept.key === key && kept.net === net && root.firstChild) { refresh(kept, net, answer, u, field); return; }
  const cells = [], sums = [], totals = {};
  const name = layerName(net, layer);
  const title = testid(el("h3", { tabIndex: -1, textContent: t("cnn.unitTitle", { layer: name, c: channel + 1, r: row + 1, col: col + 1 }) }), "cnn-unit-title");
  const close = testid(el("button", { type: "button", className: "cnn-close", textContent: t("insp.close") }), "cnn-close");
  close.setAttribute("aria-label", t("cnn.closeAria"));
  close.addEventListener("click", actions.close);
  const moves = el("div", { className: "cnn-moves", role: "group" });
  moves.setAttribute("aria-label", t("cnn.movesAria"));
  for (const [dir, dr, dc, arrow] of [["up", -1, 0, "↑"], ["down", 1, 0, "↓"], ["left", 0, -1, "←"], ["right", 0, 1, "→"]]) {
    const r = row + dr, c = col + dc, b = testid(el("button", { type: "button", textContent: arrow }), `cnn-move-${dir}`);
    b.setAttribute("aria-label", t(`cnn.move.${dir}`));
    b.disabled = r < 0 || r >= h || c < 0 || c >= w;
    b.addEventListener("click", () => actions.move({ layer, channel, row: r, col: c }));
    moves.append(b);
  }
  const knock = testid(el("button", { type: "button", className: "cnn-knock", textContent: actions.knocked ? t("cnn.knockOn", { c: channel + 1 }) : t("cnn.knockOff", { c: channel + 1 }) }), "cnn-knockout");
  knock.setAttribute("aria-pressed", String(actions.knocked));
  knock.addEventListener("click", actions.knockout);

  const picture = fieldPicture(net, answer.trace.input, field);
  const where = el("figure", { className: "cnn-where" }, picture,
                   el("figcaption", { textContent: t("cnn.fieldCaption", { r0: field.top + 1, r1: field.bottom + 1, c0: field.left + 1, c1: field.right + 1, size: `${field.bottom - field.top + 1}×${field.right - field.left + 1}` }) }));
  const maths = el("div", { className: "cnn-maths" });
  const below = layer === 0 ? null : layerName(net, layer - 1);
  const from = (ci) => (below ? t("cnn.fromMap", { c: ci + 1, layer: below }) : t("cnn.fromInput"));
  if (!answer.has_ink) maths.append(el("p", { className: "hint", textContent: t("cnn.drawFirst") }));
  else if (u.kind === "conv") {
    maths.append(el("p", { className: "formula", textContent: tn("cnn.convFormula", u.terms.length / (u.k * u.k), { f: u.activation, terms: u.terms.length, k: u.k }) }));
    const windows = el("div", { className: "cnn-windows" }), per = u.k * u.k;
    for (let ci = 0; ci < u.terms.length / per; ci++) {
      const part = u.terms.slice(ci * per, (ci + 1) * per);
      const sum = part.reduce((s, x) => s + x.product, 0);
      const share = el("p", { className: "hint", textContent: t("cnn.channelSum", { s: n3(sum) }) });
      sums.push(share);
      windows.append(el("div", {}, windowTable(part, u.k, true, from(ci), cells), share));
    }
    maths.append(windows,
                 line("cnn-sum", t("cnn.sum", { n: u.terms.length }), n3(u.sum), totals),
                 line("cnn-bias", t("cnn.bias"), n3(u.bias), totals),
                 line("cnn-z", t("cnn.z"), n3(u.z), totals),
                 line("cnn-value", `${u.activation}(z) =`, n3(u.result), totals));
  } else {
    maths.append(el("p", { className: "formula", textContent: t(`cnn.poolFormula.${u.type}`, { k: u.k }) }),
                 windowTable(u.terms, u.k, false, from(channel), cells),
                 line("cnn-value", t(`cnn.poolResult.${u.type}`), n3(u.result), totals));
  }
  if (u.knocked_out) maths.append(testid(el("p", { className: "ko-note", textContent: t("cnn.knockedNote", { v: n3(u.result) }) }), "cnn-knocked-note"));
  root.replaceChildren(el("div", { className: "cnn-insp-head" }, title, close), moves, knock, where, maths);
  KEPT.set(root, { key, net, cells, sums, totals, canvas: picture });
  if (focused) root.querySelector(`[data-testid="${focused}"]`)?.focus();
}
