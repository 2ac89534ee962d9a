// Colour maps and painting numbers into canvases. Numbers come from the server; this only
// maps them to colours: activations teal (0 pale, high deep), weights red (+) / blue (−) as in
// machine.academy's video, bias yellow (+) / green (−), images white ink on black.

const ACT_STOPS = [[238, 241, 246], [143, 211, 200], [20, 145, 155], [11, 60, 93]];
const POS = [192, 57, 43], NEG = [33, 102, 172], MID = [250, 250, 250];
export const BIAS_POS = "#f2b705", BIAS_NEG = "#3a9d5d";

function lerp(a, b, t) { return a + (b - a) * t; }

export function activationColor(t) {
  t = Math.max(0, Math.min(1, t)) * (ACT_STOPS.length - 1);
  const i = Math.min(ACT_STOPS.length - 2, Math.floor(t)), f = t - i;
  const a = ACT_STOPS[i], b = ACT_STOPS[i + 1];
  return [lerp(a[0], b[0], f), lerp(a[1], b[1], f), lerp(a[2], b[2], f)];
}

export function divergingColor(t) {  // t in -1..1
  t = Math.max(-1, Math.min(1, t));
  const end = t >= 0 ? POS : NEG, f = Math.sqrt(Math.abs(t));
  return [lerp(MID[0], end[0], f), lerp(MID[1], end[1], f), lerp(MID[2], end[2], f)];
}

export function css(rgb) { return `rgb(${rgb[0] | 0},${rgb[1] | 0},${rgb[2] | 0})`; }

// The maps sampled at 1/255 steps, drawn from on every pointer move (thousands of cells a
// frame: building a colour per cell cost more than drawing it). Step k of ACT is t = k/255;
// step k of DIV is t = (k - 255)/255.
const STEPS = 255;
const ACT_RGB = Array.from({ length: STEPS + 1 }, (_, k) => activationColor(k / STEPS));
const DIV_RGB = Array.from({ length: 2 * STEPS + 1 }, (_, k) => divergingColor((k - STEPS) / STEPS));
export const ACT_CSS = ACT_RGB.map(css);
const clampStep = (t) => Math.round(Math.max(0, Math.min(1, t)) * STEPS);
export const activationStep = (t) => clampStep(t);
const divStep = (t) => Math.round(Math.max(-1, Math.min(1, t)) * STEPS) + STEPS;

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
      const rgb = kind === "diverging" ? DIV_RGB[divStep(v / s)] : ACT_RGB[clampStep(v / s)];
      d[4 * i] = rgb[0]; d[4 * i + 1] = rgb[1]; d[4 * i + 2] = rgb[2];
    }
    d[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

// uint8 test images (0..255) as lists.
export function paintDigit(canvas, pixels) {
  paint(canvas, pixels, 28, 28, "gray", 255);
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
