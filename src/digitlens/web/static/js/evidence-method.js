// The evidence panel's method switch: gradient × input (the live answer's evidence, on every
// pointer move) or integrated gradients (POST /api/attribute with target "all", asked when
// the drawing has been still for a moment: it integrates 64 gradients per class).

import { api, servedLocally } from "./api.js";
import { pct, t } from "./i18n.js";

const WAIT_MS = 150;

export class EvidenceMethod {
  // opts.run() the current run; opts.input() the input spec; opts.render(ev, prediction)
  // draws evidence ({note, contributions, scores}) the way the live answer's is drawn.
  constructor(heading, opts) {
    this.opts = opts;
    this.method = "gradient";
    const label = document.createElement("label");
    label.className = "ev-method";
    label.innerHTML = `<select data-testid="evidence-method">
      <option value="gradient"></option><option value="integrated-gradients"></option></select>`;
    const [gi, ig] = label.querySelectorAll("option");  // the words set as text: no markup in them
    gi.textContent = t("term.gradient × input"); ig.textContent = t("term.integrated gradients");
    label.firstElementChild.setAttribute("aria-label", t("evidence.methodAria"));
    label.hidden = servedLocally();  // integrated gradients are asked of the server
    heading.insertBefore(label, heading.querySelector("button"));
    this.select = label.querySelector("select");
    this.select.addEventListener("change", () => { this.method = this.select.value; this.opts.redraw(); });
  }

  // Called with every live answer; true when this switch draws the panel itself.
  takeOver(res) {
    if (this.method === "gradient" || !res.has_ink || !res.evidence) return false;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fetch(res.prediction), WAIT_MS);
    return true;
  }

  async fetch(prediction) {
    const run = this.opts.run();
    if (!run) return;
    try {
      const d = await api("api/attribute", { run: run.name, ...this.opts.input(), target: "all",
                                             steps: 64 });
      if (this.method !== "integrated-gradients") return;
      const contributions = Float32Array.from(d.contributions.flat());
      contributions.shape = [d.contributions.length, run.sizes[0]];
      const name = run.class_names[d.prediction] ?? d.prediction;
      const caveat = this.opts.caveat?.() ? t("evidence.wholeNet") : "";
      const extra = ` ${t("evidence.completeness", { name, p: pct(d.completeness_error, 2) })}${caveat}`;
      this.opts.render({ note: d.note, extra, contributions, scores: d.scores }, prediction);
    } catch (err) {
      this.opts.render(null, prediction, err.message);
    }
  }
}
