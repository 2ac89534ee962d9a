// The drawing pad: white ink on black like MNIST, strokes kept for undo, mouse/touch/pen
// through pointer events. It only records and paints strokes; the engine does the rest.
// Moves come from pointerrawupdate where the browser has it (secure contexts: localhost):
// it is delivered as soon as the pointer moves, while pointermove waits for the next frame
// (benchmarks/bench_browser.py measures the input-to-answer time).

import { input } from "./state.js";

const WIDTHS = { thin: 12, medium: 18, thick: 26 };

export class DrawPad {
  constructor(canvas, onChange) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d", { willReadFrequently: false });
    this.onChange = onChange;
    this.strokes = [];
    this.background = null;    // a test digit drawn under the strokes
    this.current = null;
    this.pen = "medium";
    this.version = 0;
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    const raw = "onpointerrawupdate" in window;
    canvas.addEventListener(raw ? "pointerrawupdate" : "pointermove", (e) => this.move(e));
    for (const t of ["pointerup", "pointercancel", "lostpointercapture"]) {
      canvas.addEventListener(t, () => this.up());
    }
    this.redraw();
  }

  point(e) {
    const r = this.canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * this.canvas.width / r.width,
            (e.clientY - r.top) * this.canvas.height / r.height];
  }

  down(e) {
    if (e.button !== undefined && e.button > 0) return;
    e.preventDefault();
    this.canvas.setPointerCapture?.(e.pointerId);
    this.begin(this.point(e), e.timeStamp);
  }

  // A stroke from canvas point [x, y]; the keyboard's pen (keyboard.js) draws through these too.
  begin(xy, stamp) {
    this.current = { width: WIDTHS[this.pen], points: [xy] };
    this.strokes.push(this.current);
    this.paintStroke(this.current, 0);
    this.changed(stamp);
  }

  extend(xy) {
    if (!this.current) return;
    this.current.points.push(xy);
    this.paintStroke(this.current, this.current.points.length - 2);
    this.changed();
  }

  move(e) {
    if (!this.current) return;
    e.preventDefault();
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    const from = this.current.points.length - 1;
    for (const ev of events.length ? events : [e]) this.current.points.push(this.point(ev));
    this.paintStroke(this.current, from);
    this.changed(e.timeStamp);
  }

  up() { this.current = null; }

  changed(stamp) { this.version++; this.onChange(stamp ?? performance.now()); }

  paintStroke(s, from) {
    const c = this.ctx, p = s.points;
    c.strokeStyle = "#fff"; c.fillStyle = "#fff";  // the ink: data (the pixels read), not UI
    c.lineWidth = s.width; c.lineCap = "round"; c.lineJoin = "round";
    if (p.length === 1) {
      c.beginPath(); c.arc(p[0][0], p[0][1], s.width / 2, 0, 2 * Math.PI); c.fill();
      return;
    }
    c.beginPath();
    c.moveTo(p[Math.max(0, from)][0], p[Math.max(0, from)][1]);
    for (let i = Math.max(1, from + 1); i < p.length; i++) c.lineTo(p[i][0], p[i][1]);
    c.stroke();
  }

  redraw() {
    const c = this.ctx;
    c.fillStyle = "#000";
    c.fillRect(0, 0, this.canvas.width, this.canvas.height);
    if (this.background) {
      c.imageSmoothingEnabled = true;
      c.drawImage(this.background, 0, 0, this.canvas.width, this.canvas.height);
    }
    for (const s of this.strokes) this.paintStroke(s, 0);
  }

  clear() { this.strokes = []; this.background = null; this.redraw(); this.changed(); }

  undo() {
    if (this.strokes.length) this.strokes.pop();
    else this.background = null;
    this.redraw(); this.changed();
  }

  // Show a uint8 image of the model's input shape as the drawing (the test-set browser loads
  // digits this way).
  setBackground(pixels) {
    const small = document.createElement("canvas"), [H, W] = input.shape;
    small.width = W; small.height = H;
    const sctx = small.getContext("2d"), img = sctx.createImageData(W, H);
    for (let i = 0; i < W * H; i++) {
      img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = pixels[i];
      img.data[4 * i + 3] = 255;
    }
    sctx.putImageData(img, 0, 0);
    this.background = small;
    this.strokes = [];
    this.redraw(); this.changed();
  }

  isEmpty() { return !this.strokes.length && !this.background; }

  cyclePen() {
    const names = Object.keys(WIDTHS);
    this.pen = names[(names.indexOf(this.pen) + 1) % names.length];
    return this.pen;
  }

  // The drawing at half size (140×140; the server crops and fits it to 20×20 anyway) as the
  // API's "gray" input: base64 of one byte per pixel, the grey level Pillow would read from a
  // PNG of it (ITU-R 601 luma), so the server sees the same numbers as from an image, without
  // a PNG to encode here and decode there.
  grayBytes() {
    if (!this.half) {
      this.half = document.createElement("canvas");
      this.half.width = this.canvas.width / 2; this.half.height = this.canvas.height / 2;
      this.halfCtx = this.half.getContext("2d", { willReadFrequently: true });
    }
    const c = this.halfCtx, w = this.half.width, h = this.half.height;
    c.imageSmoothingEnabled = true; c.imageSmoothingQuality = "high";
    c.drawImage(this.canvas, 0, 0, w, h);
    const rgba = c.getImageData(0, 0, w, h).data, out = new Uint8Array(w * h);
    for (let i = 0, j = 0; i < out.length; i++, j += 4) {
      out[i] = (rgba[j] * 19595 + rgba[j + 1] * 38470 + rgba[j + 2] * 7471 + 0x8000) >> 16;
    }
    return { gray: out, width: w, height: h };
  }

  gray() {
    const { gray: out, width: w, height: h } = this.grayBytes();
    let text = "";
    for (let i = 0; i < out.length; i += 0x8000) {
      text += String.fromCharCode(...out.subarray(i, i + 0x8000));
    }
    return { gray: btoa(text), width: w, height: h };
  }
}
