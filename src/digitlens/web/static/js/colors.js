// Colour maps and painting numbers into canvases, from the report's one palette (palette.js,
// generated from digitlens/palette.py): activations grey, black (silent) to white
// (firing hardest); weights and evidence blue (−) · white · red (+); bias green (−) ·
// white · yellow (+); images white ink on black. This only maps numbers to colours.

import { GREY, SCHEMES } from "./palette.js";
import { fillWith, t } from "./i18n.js";

// the signs' ramps of the scheme in use, rewritten in place by useScheme
const DIV = SCHEMES.classic.DIV.slice(), BIAS = SCHEMES.classic.BIAS.slice();
const GREY_TOP = GREY.length - 1, DIV_HALF = (DIV.length - 1) / 2;
let scheme = "classic";  // functions, not exported lets: the single file's packer copies values

// Switch the signs' colours ('classic' red/blue or 'colourblind' orange/purple); views drawn
// afterwards use them. Unknown names keep the classic scheme.
export function useScheme(name) {
  scheme = SCHEMES[name] ? name : "classic";
  DIV.splice(0, DIV.length, ...SCHEMES[scheme].DIV);
  BIAS.splice(0, BIAS.length, ...SCHEMES[scheme].BIAS);
  return scheme;
}

// A colour's name in the scheme in use ("pos", "neg", "bias_pos", ...), for words beside it.
export function hue(key) { return t(`colour.${SCHEMES[scheme].words[key]}`); }
fillWith(() => ({ pos: hue("pos"), neg: hue("neg") }));

// The CSS colour of a sign at full strength: "pos" or "neg"; of a bias's sign.
export function signCss(key) { return css(key === "pos" ? DIV.at(-1) : DIV[0]); }
export function biasCss(positive) { return css(positive ? BIAS.at(-1) : BIAS[0]); }

// t in 0..1 -> a GREY entry, as colors.grey(values, 0, 1)
export function activationColor(t) { return GREY[activationStep(t)]; }

// t in -1..1 -> a DIV entry, as colors.diverging(values, 1)
export function divergingColor(t) { return DIV[divStep(t)]; }

export function css(rgb) { return `rgb(${rgb[0] | 0},${rgb[1] | 0},${rgb[2] | 0})`; }

export const ACT_CSS = GREY.map(css);
// halves round to even, as NumPy's rint in colors.py, so a value lands on the same step
const rint = (x) => { const r = Math.round(x); return Math.abs(x % 1) === 0.5 && r % 2 ? r - 1 : r; };
export const activationStep = (t) => rint(Math.max(0, Math.min(1, t || 0)) * GREY_TOP);
const divStep = (t) => rint(Math.max(-1, Math.min(1, t || 0)) * DIV_HALF + DIV_HALF);

export function maxAbs(values) {
  let m = 0;
  for (const v of values) { const a = Math.abs(v); if (a > m) m = a; }
  return m || 1;
}

// Paint w×h values into a canvas of exactly that size (CSS scales it up, pixelated).
export function paint(canvas, values, w, h, kind = "gray", scale = null) {
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(w, h), d = img.data;
  const s = scale ?? (kind === "gray" ? 1 : maxAbs(values));
  for (let i = 0; i < w * h; i++) {
    const v = values[i] ?? 0;
    if (kind === "gray") {
      d[4 * i] = d[4 * i + 1] = d[4 * i + 2] = (v / s) * 255;  // the array clamps and rounds
    } else {
      const rgb = kind === "diverging" ? DIV[divStep(v / s)] : GREY[activationStep(v / s)];
      d[4 * i] = rgb[0]; d[4 * i + 1] = rgb[1]; d[4 * i + 2] = rgb[2];
    }
    d[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

// uint8 test images (0..255) as lists, of `shape` [h, w] (MNIST's 28×28 unless told).
export function paintDigit(canvas, pixels, shape = [28, 28]) {
  paint(canvas, pixels, shape[1], shape[0], "gray", 255);
}

export function downloadCanvas(canvas, name) {
  canvas.toBlob((blob) => {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 2000);
  }, "image/png");
}

// A UI colour of colors.css (the one stylesheet of UI colours) for a canvas: `name` is the
// variable without its dashes ("ink", "muted", "focus"), read on `el` (a notebook widget keeps
// them on its own root) or the page's root. Without a stylesheet to read (Node, a widget not
// yet on the page) it answers `fallback`.
export function uiColor(name, el = null, fallback = "#000") {
  if (typeof getComputedStyle !== "function") return fallback;
  const root = el ?? document.documentElement;
  return getComputedStyle(root).getPropertyValue(`--${name}`).trim() || fallback;
}
