// MNIST's normalisation of a drawing, every step kept, as digitlens/data/preprocess.py does it
// (the reference; tests/web/test_engine.py compares the two on generated drawings). Part of
// the page's engine: import it from engine.js. Pillow's Lanczos resampling of float images is
// reproduced here, rounding where Python rounds, so a digit lands on the same pixels.

import { EngineError } from "./engine-error.js";

export const FIELD = 28;
export const BOX = 20;
export const CENTRE = 14;
export const INK_THRESHOLD = 0.02;
export const MAX_SIDE = 512;

const f32 = Math.fround;

function withShape(array, shape) { array.shape = shape; return array; }


// numpy's pairwise summation (the order np.sum adds in), with `round` applied after every
// addition: Math.fround for float32 arrays. The centre of mass is rounded to whole pixels,
// so the order of a float32 sum decides a pixel now and then.
function pairwiseSum(a, start, n, round) {
  if (n < 8) {
    let s = 0;
    for (let i = 0; i < n; i++) s = round(s + a[start + i]);
    return s;
  }
  if (n <= 128) {
    const r = [];
    for (let j = 0; j < 8; j++) r.push(a[start + j]);
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] = round(r[j] + a[start + i + j]);
    let s = round(round(round(r[0] + r[1]) + round(r[2] + r[3])) + round(round(r[4] + r[5]) + round(r[6] + r[7])));
    for (; i < n; i++) s = round(s + a[start + i]);
    return s;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return round(pairwiseSum(a, start, n2, round) + pairwiseSum(a, start + n2, n - n2, round));
}
const same = (v) => v;

function roundHalfEven(x) {  // Python's round()
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}

function lanczos(x) {
  if (!(x >= -3 && x < 3)) return 0;
  const sinc = (v) => (v === 0 ? 1 : Math.sin(v * Math.PI) / (v * Math.PI));
  return sinc(x) * sinc(x / 3);
}

// Pillow's precompute_coeffs for LANCZOS (Resample.c): support grows with the downscale.
// Kept per size pair: the pad sends the same size on every move.
const COEFFS = new Map();
function coefficients(inSize, outSize) {
  const key = `${inSize}/${outSize}`;
  if (!COEFFS.has(key)) {
    if (COEFFS.size > 256) COEFFS.clear();
    COEFFS.set(key, computeCoefficients(inSize, outSize));
  }
  return COEFFS.get(key);
}

function computeCoefficients(inSize, outSize) {
  const scale = inSize / outSize, filterscale = Math.max(scale, 1), support = 3 * filterscale;
  const bounds = [], kernels = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale, ss = 1 / filterscale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    const k = new Float64Array(Math.max(0, xmax));
    let ww = 0;
    for (let x = 0; x < xmax; x++) { k[x] = lanczos((x + xmin - center + 0.5) * ss); ww += k[x]; }
    if (ww !== 0) for (let x = 0; x < xmax; x++) k[x] /= ww;
    bounds.push(xmin); kernels.push(k);
  }
  return { bounds, kernels };
}

/**
 * Pillow's Image.resize(LANCZOS) of a mode-"F" (float32) image, as preprocess.resize calls
 * it: a horizontal pass into a float32 image, then a vertical one; then clipped to 0..1.
 */
export function resize(src, h, w, outH, outW) {
  let cur = src, curW = w;
  if (outW !== w) {
    const { bounds, kernels } = coefficients(w, outW), tmp = new Float32Array(h * outW);
    for (let y = 0; y < h; y++) {
      let blank = true;  // a blank row stays blank (most of a canvas): skip its sums
      for (let x = y * w, end = x + w; x < end && blank; x++) blank = cur[x] === 0;
      if (blank) continue;
      for (let xx = 0; xx < outW; xx++) {
        const k = kernels[xx], base = y * w + bounds[xx];
        let s = 0;
        for (let x = 0; x < k.length; x++) s += cur[base + x] * k[x];
        tmp[y * outW + xx] = s;
      }
    }
    cur = tmp; curW = outW;
  }
  if (outH !== h) {
    const { bounds, kernels } = coefficients(h, outH), tmp = new Float32Array(outH * curW);
    for (let yy = 0; yy < outH; yy++) {
      const k = kernels[yy], y0 = bounds[yy];
      for (let x = 0; x < curW; x++) {
        let s = 0;
        for (let y = 0; y < k.length; y++) s += cur[(y0 + y) * curW + x] * k[y];
        tmp[yy * curW + x] = s;
      }
    }
    cur = tmp;
  }
  const out = withShape(new Float32Array(outH * outW), [outH, outW]);
  for (let i = 0; i < out.length; i++) out[i] = Math.min(1, Math.max(0, cur[i]));
  return out;
}

function median(values) {  // np.median of float32 values (the middle two averaged in float32)
  const s = Float32Array.from(values).sort(), n = s.length, m = n >> 1;
  return n % 2 ? s[m] : f32(f32(s[m - 1] + s[m]) / 2);
}

/** The box a drawing is fitted into for an h×w field: MNIST's 20-in-28 scaled (box_for). */
export function boxFor(shape) {
  return [Math.max(1, Math.round(BOX * shape[0] / FIELD)), Math.max(1, Math.round(BOX * shape[1] / FIELD))];
}

/**
 * MNIST's normalisation of a drawing (data.preprocess.preprocess): `gray` width×height bytes,
 * 0 black .. 255 white, row by row. Ink is made bright (dark-on-light inverted), cropped,
 * fitted to 20×20 keeping the aspect, pasted into 28×28 with its centre of mass at (14, 14).
 * For another `shape` [h, w] (the model's input) the box is boxFor(shape) and the centre
 * (h/2, w/2). Every step is returned; `centred` (and `raw28`, the whole canvas squashed to the
 * field) feed the net.
 */
export function preprocess(gray, width, height, shape = [FIELD, FIELD]) {
  const [FH, FW] = shape, [BH, BW] = boxFor(shape), CY = FH / 2, CX = FW / 2;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new EngineError(`the drawing's size must be whole pixels, got ${width}×${height}`);
  }
  if (width > MAX_SIDE || height > MAX_SIDE) {
    throw new EngineError(`the drawing is ${width}×${height}; at most ${MAX_SIDE}×${MAX_SIDE} pixels`);
  }
  if (!gray || gray.length !== width * height) {
    throw new EngineError(`the drawing must hold ${width * height} grey levels, got ${gray?.length}`);
  }
  const n = width * height, g = new Float32Array(n);
  for (let i = 0; i < n; i++) g[i] = Math.min(1, Math.max(0, gray[i] / 255));
  // ink_bright: the border's median is the background
  const border = [];
  for (let x = 0; x < width; x++) border.push(g[x]);
  for (let x = 0; x < width; x++) border.push(g[(height - 1) * width + x]);
  for (let y = 0; y < height; y++) border.push(g[y * width]);
  for (let y = 0; y < height; y++) border.push(g[y * width + width - 1]);
  const bg = median(border), inverted = bg > 0.5;
  const background = inverted ? 1 - bg : bg;
  const ink = withShape(new Float32Array(n), [height, width]);
  const denom = f32(Math.max(1 - background, 1e-6)), bg32 = f32(background);
  let peak = 0;
  for (let i = 0; i < n; i++) {
    let v = inverted ? f32(1 - g[i]) : g[i];
    if (background > 0) v = Math.min(1, Math.max(0, f32(f32(v - bg32) / denom)));
    ink[i] = v;
    if (v > peak) peak = v;
  }
  const raw28 = resize(ink, height, width, FH, FW);
  const result = { width, height, ink, inverted, raw28, has_ink: false,
                   cropped: withShape(new Float32Array(0), [0, 0]),
                   fitted: withShape(new Float32Array(0), [0, 0]),
                   centred: withShape(new Float32Array(FH * FW), [FH, FW]),
                   bbox: [0, 0, 0, 0], centre_of_mass: [CY, CX], offset: [0, 0] };
  if (peak <= 0.05) return result;
  const cut = f32(INK_THRESHOLD * peak);
  let top = height, bottom = -1, left = width, right = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x] > cut) {
        if (y < top) top = y;
        if (y > bottom) bottom = y;
        if (x < left) left = x;
        if (x > right) right = x;
      }
    }
  }
  bottom += 1; right += 1;
  const h = bottom - top, w = right - left, cropped = withShape(new Float32Array(h * w), [h, w]);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) cropped[y * w + x] = ink[(top + y) * width + left + x];
  const scale = Math.min(BH / h, BW / w);  // = BOX / max(h, w) for a square field
  const fh = Math.max(1, roundHalfEven(h * scale)), fw = Math.max(1, roundHalfEven(w * scale));
  const fitted = resize(cropped, h, w, fh, fw);
  result.cropped = cropped; result.fitted = fitted;
  const total = pairwiseSum(fitted, 0, fitted.length, f32);
  if (total <= 0) return result;
  const wy = new Float64Array(fitted.length), wx = new Float64Array(fitted.length);
  for (let i = 0; i < fitted.length; i++) { wy[i] = fitted[i] * Math.floor(i / fw); wx[i] = fitted[i] * (i % fw); }
  const cy = pairwiseSum(wy, 0, wy.length, same) / total, cx = pairwiseSum(wx, 0, wx.length, same) / total;
  const oy = Math.min(Math.max(roundHalfEven(CY - cy), 0), FH - fh);
  const ox = Math.min(Math.max(roundHalfEven(CX - cx), 0), FW - fw);
  for (let y = 0; y < fh; y++) for (let x = 0; x < fw; x++) result.centred[(oy + y) * FW + ox + x] = fitted[y * fw + x];
  Object.assign(result, { has_ink: true, bbox: [top, left, bottom, right],
                          centre_of_mass: [cy + oy, cx + ox], offset: [oy, ox] });
  return result;
}

/**
 * Where a box of the network's input ({top, left, bottom, right}, inclusive pixels of the
 * field) came from in the drawing `pre` was made of: {top, left, bottom, right} in the
 * drawing's pixels (`pre.width` × `pre.height`, right and bottom exclusive), undoing the
 * centring (offset), the fit (the crop's scale) and the crop (bbox); for a raw input, the
 * squash. null when the box lies outside the fitted drawing (it reads only the blank margin).
 */
export function inputBoxOnDrawing(pre, box, shape) {
  const [FH, FW] = shape;
  if (pre.mode === "raw") {
    const sy = pre.height / FH, sx = pre.width / FW;
    return { top: box.top * sy, left: box.left * sx, bottom: (box.bottom + 1) * sy, right: (box.right + 1) * sx };
  }
  if (!pre.has_ink || !pre.fitted?.shape) return null;
  const [fh, fw] = pre.fitted.shape, [oy, ox] = pre.offset, [top, left, bottom, right] = pre.bbox;
  const y0 = Math.max(0, box.top - oy), y1 = Math.min(fh, box.bottom + 1 - oy);
  const x0 = Math.max(0, box.left - ox), x1 = Math.min(fw, box.right + 1 - ox);
  if (y0 >= y1 || x0 >= x1) return null;
  const sy = (bottom - top) / fh, sx = (right - left) / fw;
  return { top: top + y0 * sy, left: left + x0 * sx, bottom: top + y1 * sy, right: left + x1 * sx };
}
