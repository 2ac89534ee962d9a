// "Make it say …": the smallest change of the current drawing that makes the network read
// another class (POST /api/nudge, DeepFool on the server), drawn over the drawing pad as an
// overlay: the nudged digit as the network sees it (its input shape), the pixels the nudge added tinted
// red and those it took away blue. "Keep it" puts the nudged digit on the pad, where the user
// can keep drawing; until they do, the page sends it to the network exactly as it is
// (net_input), since preprocessing it again would blur a change this faint away.

import { api, servedLocally } from "./api.js";
import { input } from "./state.js";
import { esc } from "./escape.js";
import { num, pct, t } from "./i18n.js";

const TINT = 0.6;  // how strongly a changed pixel is tinted, relative to the largest change

export class Nudge {
  // pad: the DrawPad; opts.run() the current run; opts.input() the current input spec
  // (as /api/predict takes it); opts.onKeep() after the nudged digit is kept.
  constructor(pad, opts) {
    this.pad = pad; this.opts = opts;
    this.kept = null;       // { values: the input's floats, version: the pad's version when kept }
    this.shown = null;      // the answer on display
    this.timings = [];      // click -> overlay drawn, ms (benchmarks and tests read these)
    this.build();
  }

  build() {
    const card = this.pad.canvas.parentElement;
    card.classList.add("nudge-host");
    const box = document.createElement("div");
    box.className = "nudge-controls";
    box.innerHTML = `<label>${esc(t("nudge.say"))} <select data-testid="nudge-target">
        <option value="">${esc(t("nudge.any"))}</option></select></label>
      <button data-testid="nudge-go" title="${esc(t("nudge.goTitle"))}">${esc(t("nudge.go"))}</button>`;
    box.hidden = servedLocally();  // DeepFool runs on the server: the single file has none
    this.pad.canvas.insertAdjacentElement("afterend", box);
    this.select = box.querySelector("select");
    box.querySelector("button").addEventListener("click", () => this.ask());
    this.overlay = document.createElement("canvas");
    this.overlay.width = this.overlay.height = 28;
    this.overlay.className = "nudge-overlay";
    this.overlay.dataset.testid = "nudge-overlay";
    this.overlay.hidden = true;
    this.panel = document.createElement("div");
    this.panel.className = "nudge-panel";
    this.panel.dataset.testid = "nudge-panel";
    this.panel.hidden = true;
    card.append(this.overlay, this.panel);
    this.pad.canvas.addEventListener("pointerdown", () => this.dismiss());
  }

  setClasses(names) {
    this.select.length = 1;
    names.forEach((n, k) => this.select.add(new Option(n, String(k))));
  }

  // The input spec while a kept nudge is still untouched, else null.
  input() {
    if (!this.kept) return null;
    if (this.pad.version !== this.kept.version || this.pad.strokes.length) { this.kept = null; return null; }
    return { net_input: this.kept.values };
  }

  async ask() {
    const run = this.opts.run();
    if (!run) return;
    this.dismiss();
    if (this.pad.isEmpty()) { this.message(t("nudge.drawFirst")); return; }
    const t0 = performance.now();
    const body = { run: run.name, ...this.opts.input() };
    if (this.select.value !== "") body.target = Number(this.select.value);
    try {
      const res = await api("api/nudge", body);
      this.show(res, run.class_names);
      this.timings.push(performance.now() - t0);
    } catch (err) {
      this.message(err.message);
    }
  }

  show(res, names) {
    this.shown = res;
    const [H, W] = input.shape;
    this.overlay.width = W; this.overlay.height = H;
    const ctx = this.overlay.getContext("2d"), img = ctx.createImageData(W, H), d = img.data;
    const scale = Math.max(res.linf, 1e-6);
    for (let i = 0; i < W * H; i++) {
      const v = res.adversarial[i] * 255, t = TINT * (res.adversarial[i] - res.input[i]) / scale;
      d[4 * i] = t < 0 ? v * (1 + t) : v + (255 - v) * t;          // red where ink was added
      d[4 * i + 1] = v * (1 - Math.abs(t));
      d[4 * i + 2] = t > 0 ? v * (1 - t) : v + (255 - v) * -t;     // blue where it was taken
      d[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    this.place();
    this.overlay.hidden = false;
    this.panel.hidden = false;
    this.panel.innerHTML = `<b>${esc(names[res.from])} → <span data-testid="nudge-to">${esc(names[res.to])}</span></b>
      ${esc(t("nudge.result", { p: pct(res.probability), l2: num(res.l2, 2), n: num(res.changed_pixels), linf: num(res.linf, 2) }))}
      <span class="hint">${esc(t("nudge.colours"))}${this.opts.caveat?.() ? esc(t("nudge.wholeNet")) : ""}</span>
      <span class="buttons"><button data-testid="nudge-keep">${esc(t("nudge.keep"))}</button>
      <button data-testid="nudge-dismiss">${esc(t("nudge.dismiss"))}</button></span>`;
    this.panel.querySelector("[data-testid=nudge-keep]").addEventListener("click", () => this.keep());
    this.panel.querySelector("[data-testid=nudge-dismiss]").addEventListener("click", () => this.dismiss());
  }

  message(text) {
    this.panel.hidden = false;
    this.panel.innerHTML = `<span data-testid="nudge-message">${esc(text)}</span>`;
    clearTimeout(this.msgTimer);
    this.msgTimer = setTimeout(() => { if (!this.shown) this.panel.hidden = true; }, 6000);
  }

  place() {  // over the drawing pad, wherever the layout put it
    const c = this.pad.canvas;
    Object.assign(this.overlay.style, { left: `${c.offsetLeft}px`, top: `${c.offsetTop}px`,
                                        width: `${c.offsetWidth}px`, height: `${c.offsetHeight}px` });
  }

  keep() {
    const res = this.shown;
    if (!res) return;
    this.dismiss();
    this.opts.onKeep?.();
    // setBackground bumps the pad's version once and asks the network again, which then
    // finds the kept digit here
    this.kept = { values: res.adversarial, version: this.pad.version + 1 };
    this.pad.setBackground(res.adversarial.map((v) => Math.round(v * 255)));
  }

  dismiss() {
    this.shown = null;
    this.overlay.hidden = true;
    this.panel.hidden = true;
  }
}
