// The explorer's views: probability bars, preprocessing strip, per-class evidence. Each takes
// the engine's (or the server's) numbers (packed: float32 arrays with a .shape) and draws them; none computes
// anything about the network.

import { hue, paint, maxAbs } from "./colors.js";
import { rows } from "./packed.js";
import { markTerms, term } from "./glossary.js";
import { input } from "./state.js";
import { esc } from "./escape.js";

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
    li.children[2].textContent = hasInk ? `${(100 * p).toFixed(1)}%` : "";
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
  caption("s-fit").textContent = `fitted in ${bh}×${bw}`;
  caption("s-centred").innerHTML = `centred ${H}×${W}<br><small>centre of mass at (${H / 2}, ${W / 2})</small>`;
  caption("s-raw28").innerHTML = `raw: whole canvas<br><small>squashed to ${H}×${W}</small>`;
}

// The drawing, the crop (both drawn from the pad's own canvas: no numbers involved), then the
// server's fitted 20×20, centred 28×28 and raw 28×28 (other models: their own box and size).
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
    note.textContent = pre.source === "test"
      ? `Test digit #${pre.test_index} (labelled ${pre.label}) was already ` +
        "cropped, fitted and centred when MNIST was made, so it goes in as it is."
      : "The nudged digit you kept goes in as it is: preprocessing it again would blur its " +
        "faint change away.";
    return;
  }
  paint(document.getElementById("s-raw28"), pre.raw28, W, H, "gray");
  paint(document.getElementById("s-centred"), pre.centred, W, H, "gray");
  if (!pre.has_ink) {
    blank(fit, box[1], box[0]);
    note.textContent = "No ink yet: draw a digit in the black square.";
    return;
  }
  // the server's bounding box is in the pixels it was sent; map it onto the pad's canvas
  const u = pad.canvas.width / pre.width, v = pad.canvas.height / pre.height;
  const [top, left, bottom, right] = [pre.bbox[0] * v, pre.bbox[1] * u, pre.bbox[2] * v, pre.bbox[3] * u];
  const sx = 112 / pad.canvas.width, sy = 112 / pad.canvas.height;
  rc.strokeStyle = "#f5b942"; rc.lineWidth = 1.5;
  rc.strokeRect(left * sx, top * sy, (right - left) * sx, (bottom - top) * sy);
  const bw = right - left, bh = bottom - top, k = 104 / Math.max(bw, bh);
  cc.drawImage(pad.canvas, left, top, bw, bh, (112 - bw * k) / 2, (112 - bh * k) / 2, bw * k, bh * k);
  const [fh, fw] = pre.fitted.shape;
  const fctx = blank(fit, box[1], box[0]), tmp = (renderStrip.tmp ||= document.createElement("canvas"));
  paint(tmp, pre.fitted, fw, fh, "gray");
  fctx.drawImage(tmp, Math.floor((box[1] - fw) / 2), Math.floor((box[0] - fh) / 2));
  const [cy, cx] = pre.centre_of_mass;
  note.textContent = mode === "raw"
    ? `Fed raw: the whole canvas squashed to ${field}. Your digit is not sized or centred the way ` +
      "MNIST digits are, so the network sees something it never learned. Switch back to see the fix."
    : `Like MNIST: cropped to the ink, scaled to fit ${box[0]}×${box[1]} keeping its shape, then pasted so its ` +
      `centre of mass (${cy.toFixed(1)}, ${cx.toFixed(1)}) sits at the middle of the ${field} field.`;
}

export function renderEvidence(el, ev, prediction, classNames) {
  const note = document.getElementById("ev-note");
  if (!ev) {
    el.innerHTML = "";
    note.textContent = "shown for the intact network only: switch the knocked-out neurons back on";
    return;
  }
  if (ev.note) {  // plain words first; the method a tap away (the glossary), its detail after
    const [method, ...rest] = ev.note.split(": "), detail = rest.join(": ");
    note.replaceChildren(`${hue("pos")} pixels push the class up, ${hue("neg")} down · by `,
                         term(method), method === "gradient × input" || !detail ? "" : `: ${detail}`);
    markTerms(note);
  } else note.textContent = "draw a digit";
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
    f.lastChild.textContent = ev.note ? `${classNames[k] ?? k} · score ${ev.scores[k].toFixed(2)}`
      : `${classNames[k] ?? k}`;
    f.firstChild.setAttribute("role", "img");
    f.firstChild.setAttribute("aria-label", `evidence for ${classNames[k] ?? k}: ${hue("pos")} pixels push it up, ${hue("neg")} pixels push it down`);
  });
}
