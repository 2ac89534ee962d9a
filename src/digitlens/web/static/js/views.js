// The explorer's views: probability bars, preprocessing strip, per-class evidence. Each takes
// the engine's (or the server's) numbers (packed: float32 arrays with a .shape) and draws them; none computes
// anything about the network.

import { hue, paint, maxAbs, uiColor } from "./colors.js";
import { rows } from "./packed.js";
import { markTerms, term } from "./glossary.js";
import { input } from "./state.js";
import { esc } from "./escape.js";
import { num, pct, t } from "./i18n.js";

// A model in the picker: name, sizes (a convolutional one's kernels and dense layers) and test
// accuracy; an accuracy measured on another test set than MNIST's says on what (a class's 3
// drawings' 100% is not MNIST's 100%).
const MNIST_TESTS = new Set(["mnist", "mnist-sample"]);
export function runLabel(r) {
  const sizes = r.kind === "cnn"  // its kernels per convolution, then the dense layers
    ? t("run.cnn", { convs: r.layers.filter((l) => l.kind === "conv").map((l) => l.out).join("-"),
                     dense: r.sizes.slice(1).join("-") })
    : r.sizes.join("-");
  if (r.test_accuracy == null) return `${r.name} (${sizes})`;
  if (MNIST_TESTS.has(r.dataset) || !r.n_test) return `${r.name} (${sizes} · ${pct(r.test_accuracy, 1)})`;
  const p = pct(r.test_accuracy, r.n_test < 1000 ? 0 : 1);
  return `${r.name} (${sizes} · ${t("run.accOn", { p, n: num(r.n_test), dataset: r.dataset })})`;
}

export function renderBars(el, probs, prediction, classNames, hasInk = true) {
  if (el.children.length !== probs.length || el.dataset.names !== classNames.join()) {
    el.innerHTML = "";
    el.dataset.names = classNames.join();
    const longest = Math.max(...classNames.map((n) => String(n).length), 1);
    el.style.setProperty("--label", longest > 2 ? `${longest + 1}ch` : "18px");
    probs.forEach((_, c) => {
      const li = document.createElement("li");
      li.innerHTML = `<b>${esc(classNames[c] ?? c)}</b><div class="track"><div class="fill"></div></div>` +
        `<span class="pct"></span>`;
      el.appendChild(li);
    });
  }
  probs.forEach((p, c) => {
    const li = el.children[c];
    li.classList.toggle("top", c === prediction);
    li.children[1].firstChild.style.width = `${(100 * p).toFixed(1)}%`;
    li.children[2].textContent = hasInk ? pct(p, 1) : "";
  });
}

function blank(canvas, w, h) {  // resizing a canvas reallocates it: only when it changes
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  const c = canvas.getContext("2d");
  c.fillStyle = "#000"; c.fillRect(0, 0, w, h);
  return c;
}

// The strip's captions for a model reading `shape` images (MNIST's: 20×20 in 28×28, (14, 14)).
export function labelStrip(shape) {
  const [H, W] = shape, bh = Math.max(1, Math.round(20 * H / 28)), bw = Math.max(1, Math.round(20 * W / 28));
  const caption = (id) => document.getElementById(id).closest("figure").querySelector("figcaption");
  const two = (el, first, second) => el.replaceChildren(first, document.createElement("br"),
                                                        Object.assign(document.createElement("small"), { textContent: second }));
  caption("s-fit").textContent = t("strip.fit", { box: `${bh}×${bw}` });
  two(caption("s-centred"), t("strip.centred", { field: `${H}×${W}` }), t("strip.centredAt", { y: num(H / 2), x: num(W / 2) }));
  two(caption("s-raw28"), t("strip.raw28"), t("strip.squashed", { field: `${H}×${W}` }));
}

// The drawing, the crop (both drawn from the pad's own canvas: no numbers involved), then the
// server's fitted 20×20, centred 28×28 and raw 28×28 (other models: their own box and size).
let stripCanvas = null;  // renderStrip's scratch canvas, made once
export function renderStrip(pad, pre, mode) {
  const [H, W] = input.shape, field = `${H}×${W}`;
  const box = [Math.max(1, Math.round(20 * H / 28)), Math.max(1, Math.round(20 * W / 28))];
  const raw = document.getElementById("s-raw"), crop = document.getElementById("s-crop");
  const rc = blank(raw, 112, 112);
  rc.drawImage(pad.canvas, 0, 0, 112, 112);
  const cc = blank(crop, 112, 112);
  const fit = document.getElementById("s-fit");
  const note = document.getElementById("strip-note");
  // a test digit or a kept nudge is already the network's 28×28 input: no crop or fit to show
  const asIs = pre.source === "test" || pre.source === "net input";
  document.getElementById("f-centred").classList.toggle("on", asIs || mode === "centred");
  document.getElementById("f-raw").classList.toggle("on", !asIs && mode === "raw");
  document.getElementById("strip").classList.toggle("test", asIs);
  if (pre.source === "test" || pre.source === "net input") {
    blank(fit, box[1], box[0]);
    paint(document.getElementById("s-centred"), pre.input, W, H, "gray");
    paint(document.getElementById("s-raw28"), pre.input, W, H, "gray");
    note.textContent = pre.source === "test" ? t("strip.noteTest", { i: pre.test_index, label: pre.label })
      : t("strip.noteKept");
    return;
  }
  paint(document.getElementById("s-raw28"), pre.raw28, W, H, "gray");
  paint(document.getElementById("s-centred"), pre.centred, W, H, "gray");
  if (!pre.has_ink) {
    blank(fit, box[1], box[0]);
    note.textContent = t("strip.noInk");
    return;
  }
  // the server's bounding box is in the pixels it was sent; map it onto the pad's canvas
  const u = pad.canvas.width / pre.width, v = pad.canvas.height / pre.height;
  const [top, left, bottom, right] = [pre.bbox[0] * v, pre.bbox[1] * u, pre.bbox[2] * v, pre.bbox[3] * u];
  const sx = 112 / pad.canvas.width, sy = 112 / pad.canvas.height;
  rc.strokeStyle = uiColor("crop"); rc.lineWidth = 1.5;
  rc.strokeRect(left * sx, top * sy, (right - left) * sx, (bottom - top) * sy);
  const bw = right - left, bh = bottom - top, k = 104 / Math.max(bw, bh);
  cc.drawImage(pad.canvas, left, top, bw, bh, (112 - bw * k) / 2, (112 - bh * k) / 2, bw * k, bh * k);
  const [fh, fw] = pre.fitted.shape;
  const fctx = blank(fit, box[1], box[0]), tmp = (stripCanvas ||= document.createElement("canvas"));
  paint(tmp, pre.fitted, fw, fh, "gray");
  fctx.drawImage(tmp, Math.floor((box[1] - fw) / 2), Math.floor((box[0] - fh) / 2));
  const [cy, cx] = pre.centre_of_mass;
  note.textContent = mode === "raw" ? t("strip.noteRaw", { field })
    : t("strip.noteCentred", { box: `${box[0]}×${box[1]}`, y: num(cy, 1), x: num(cx, 1), field });
}

// The evidence notes of engine.js and analysis/attribution.py by their method's words: the
// glossary's term, the catalogue's words for it and for the detail said after it (null: none).
const METHODS = {
  "gradient × input": ["gradient × input", "term.gradient × input", null],
  "input × weights": ["input × weights", "term.input × weights", "evidence.exact"],
  "integrated gradients from black": ["integrated gradients", "evidence.igName", "evidence.igDetail"],
};

export function renderEvidence(el, ev, prediction, classNames) {
  const note = document.getElementById("ev-note");
  if (!ev) {
    el.innerHTML = "";
    note.textContent = t("evidence.intactOnly");
    return;
  }
  if (ev.note) {  // plain words first; the method a tap away (the glossary), its detail after
    const [method, ...rest] = ev.note.split(": "), known = METHODS[method];
    const [gloss, words, detail] = known ? [known[0], t(known[1]), known[2] && t(known[2])]
      : [method, method, rest.join(": ")];  // a note this page does not know: as it came
    note.replaceChildren(t("evidence.push", { pos: hue("pos"), neg: hue("neg") }), term(gloss, words),
                         `${detail ? `: ${detail}` : ""}${ev.extra ?? ""}`);
    markTerms(note);
  } else note.textContent = t("predict.empty.digit");
  const contributions = rows(ev.contributions);
  if (el.children.length !== contributions.length) {
    el.innerHTML = "";
    contributions.forEach((_, c) => {
      const f = document.createElement("figure");
      f.innerHTML = `<canvas width="${input.shape[1]}" height="${input.shape[0]}"></canvas><figcaption></figcaption>`;
      el.appendChild(f);
    });
  }
  const scale = maxAbs(ev.contributions);
  contributions.forEach((c, k) => {
    const f = el.children[k];
    f.classList.toggle("top", k === prediction);
    paint(f.firstChild, c, input.shape[1], input.shape[0], "diverging", scale);
    f.lastChild.textContent = ev.note ? t("evidence.score", { name: classNames[k] ?? k, score: num(ev.scores[k], 2) })
      : `${classNames[k] ?? k}`;
    f.firstChild.setAttribute("role", "img");
    f.firstChild.setAttribute("aria-label", t("evidence.aria", { name: classNames[k] ?? k, pos: hue("pos"), neg: hue("neg") }));
  });
}
