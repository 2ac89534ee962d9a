// Where the network diagram's columns and neurons sit (diagram.js draws them there): the
// explorer's full layout, and the compact one for a phone or a notebook cell. Both measure the
// titles the diagram will draw, so a title never decides a size it does not get.

import { activeAbove, gridShape } from "./engine.js";
import { pct, t } from "./i18n.js";

// the measures of the two layouts, in CSS px: where the titles stand, the margins, the room
// between columns; compact's input size, squares and the output's row height
export const FULL = { titleY: 18, subY: 34 };
export const COMPACT = { titleY: 14, subY: 30, top: 38, bottom: 6, margin: 4, gap: 16, input: 56,
                         minCell: 3, maxCell: 14, outGap: 18, minOutGap: 14 };

// The input, the hidden layers (rows ≥ columns) and the output, before sizes are given.
function columns(d, outGap, outW) {
  const sizes = d.sizes, n = sizes.length, [inH, inW] = d.shape;
  const shown = (l) => d.views[l]?.n ?? sizes[l + 1];  // a view's squares, or the neurons
  const shapes = sizes.slice(1, -1).map((s, l) => gridShape(shown(l))).map(([a, b]) => [Math.max(a, b), Math.min(a, b)]);
  return [{ layer: -1, n: sizes[0], rows: inH, cols: inW },
    ...shapes.map(([rows, cs], l) => ({ layer: l, n: shown(l), rows, cols: cs })),
    { layer: n - 2, n: sizes[n - 1], out: true, gap: outGap, w: outW, h: outGap * sizes[n - 1] }];
}

// room for class names beside the output's circles, and for the probability ("100%" compact)
function outWidth(d) {
  const longest = Math.max(...d.classNames.map((c) => Math.min(12, String(c).length)));
  return longest > 2 ? 70 + 7 * longest : d.compact ? 60 : 70;
}

// The explorer's layout: 380 px high, spread to the room up to 1100 px.
export function fullLayout(d, room) {
  const sizes = d.sizes, activations = d.activations, shape = d.shape;
  const H = 380, top = 46, avail = H - top - 14, n = sizes.length, GAP = 24;
  const [inH, inW] = shape;
  const outW = outWidth(d), cols = columns(d, Math.min(32, avail / sizes[n - 1]), outW);
  const labels = labelWidths(d, cols, activations);
  // the input 112 px wide (28×28 at 4), 84 in a narrow box; hidden squares as large as the
  // height allows (22 at most) and as the width left or their layer's title gives them
  const inCell = Math.max(1, Math.floor((room >= 480 ? 112 : 84) / Math.max(inH, inW)));
  const hidden = cols.slice(1, -1), across = hidden.reduce((s, c) => s + c.cols, 0);
  const left = room - 40 - GAP * (n - 1) - outW - Math.max(inW * inCell, labels[0]);
  const share = across ? Math.floor(left / across) : 22;
  const titled = Math.min(...hidden.map((c, k) => Math.floor(labels[k + 1] / c.cols)));
  const cell = Math.max(4, Math.min(22, Math.max(share, titled), ...hidden.map((c) => Math.floor(avail / c.rows))));
  Object.assign(cols[0], { cell: inCell, w: inW * inCell, h: inH * inCell });
  for (const c of hidden) {  // a view's few squares as large as the height allows
    const own = d.views[c.layer] ? Math.max(cell, Math.min(22, Math.floor(avail / c.rows))) : cell;
    Object.assign(c, { cell: own, w: c.cols * own, h: c.rows * own });
  }
  cols.forEach((c, i) => { c.slot = c.out ? c.w : Math.max(c.w, labels[i]); });
  const total = cols.reduce((s, c) => s + c.slot, 0);
  const natural = Math.max(640, Math.min(1100, total + 150 * (cols.length - 1) + 60));
  const W = Math.max(Math.min(room, natural), total + GAP * (cols.length - 1) + 40);
  const space = (W - 40 - total) / (cols.length - 1);
  let x = 20;
  for (const c of cols) {
    c.x = x + (c.slot - c.w) / 2; c.y = top + (avail - c.h) / 2; x += c.slot + space;
  }
  return { W, H, cols };
}

// The compact layout: the largest squares (maxCell at most) with which every column fits the
// room, its titles reaching past a narrow column into the room beside it but kept 8 px from
// their neighbours'; as high as its tallest column; any width left spread between the columns.
export function compactLayout(d, room) {
  const K = COMPACT, n = d.sizes.length, nOut = d.sizes[n - 1], [inH, inW] = d.shape;
  const cols = columns(d, Math.max(K.minOutGap, Math.min(K.outGap, 180 / nOut)), outWidth(d));
  const text = labelWidths(d, cols, d.activations).map((w) => Math.max(0, w - 10));
  const inCell = Math.max(1, Math.floor(K.input / Math.max(inH, inW)));
  Object.assign(cols[0], { cell: inCell, w: inW * inCell, h: inH * inCell });
  // the height the squares may take: the output's column, or more in a wide box (a notebook cell),
  // where larger squares are easier to aim at; a phone's stays that of the ten classes
  const hidden = cols.slice(1, -1), out = cols[n - 1];
  const base = Math.max(nOut * out.gap, 160, cols[0].h, Math.min(300, Math.round(0.45 * room)));
  // how far the output's titles (centred on it) and its "100%" beside a circle reach out of its box
  const ctx = d.canvas.getContext("2d"), wide = (weight, px, s) => { d.font(ctx, weight, px); return ctx.measureText(s).width; };
  const titles = Math.max(wide(600, 12.5, t("diagram.output")), wide(400, 12, t("diagram.probability")));
  const beside = 12 + Math.min(12, out.gap * 0.42) + 6 + wide(400, 12, pct(1, 0)) - out.w;
  const outReach = [Math.max(0, (titles - out.w) / 2), Math.max(0, (titles - out.w) / 2, beside)];
  const place = (cell) => {  // x of each column for squares of `cell` px; the width it needs
    for (const c of hidden) Object.assign(c, { cell, w: c.cols * cell, h: c.rows * cell });
    const reach = cols.map((c, i) => (c.out ? outReach : Array(2).fill(Math.max(0, (text[i] - c.w) / 2))));
    let x = K.margin + reach[0][0];
    cols.forEach((c, i) => {
      if (i) x += Math.max(K.gap, reach[i - 1][1] + reach[i][0] + 8);
      c.x = x; x += c.w;
    });
    return Math.ceil(x + reach[n - 1][1] + K.margin);
  };
  // the largest squares that fit; where none do, those that need the least width (titles
  // wider than their squares can make smaller squares need more)
  let cell = Math.min(K.maxCell, ...hidden.map((c) => Math.floor(base / c.rows))), best = cell;
  for (; cell >= K.minCell; cell--) {
    const need = place(cell);
    if (need <= room) { best = cell; break; }
    if (need < place(best)) best = cell;
  }
  const need = place(Math.max(K.minCell, best)), W = Math.max(room, need);
  const avail = Math.max(base, ...hidden.map((c) => c.h)), H = K.top + avail + K.bottom;
  cols.forEach((c, i) => { c.x += (W - need) * i / (n - 1); c.y = K.top + (avail - c.h) / 2; });
  return { W, H, cols };
}

// Each column's titles need this much width (the widest they get, plus a margin).
export function labelWidths(d, cols, activations) {
  const ctx = d.canvas.getContext("2d");
  return cols.map((c, ci) => {
    if (c.out) return 0;
    d.font(ctx, 600, 12.5);
    const head = ctx.measureText(d.title(c)).width;
    d.font(ctx, 400, 12);
    const cut = ci === 0 || !activations[ci - 1] ? 0 : activeAbove(activations[ci - 1], c.n);
    return Math.ceil(Math.max(head, ctx.measureText(d.subtitle(c, c.n, cut)).width)) + 10;
  });
}
