// "Why this answer and not that one?", under the network diagram. Circuit (POST /api/circuit):
// the few hidden neurons that make the prediction beat another class, found by mean-ablation
// on the server and ringed on the diagram, with the signals between them. Patch
// (POST /api/patch): the drawing run again with a test digit's activations at one hidden
// layer, for the ringed circuit's neurons there or for the whole layer (which always gives
// the test digit's answer: what follows reads only that layer). If the answer moves to the
// test digit's with the circuit's few neurons alone, they carried the difference.
// Both need the server (the single-file explorer hides them).

import { api, servedLocally } from "./api.js";
import { esc } from "./escape.js";
import { paintDigit } from "./colors.js";
import { num, pct, t } from "./i18n.js";
import { layerName, neuronName } from "./numbering.js";

export class Why {
  // host: the element to fill; opts.run() the current run; opts.input() the current input
  // spec (as /api/predict takes it); opts.diagram: the Diagram to draw the circuit on;
  // opts.isEmpty(): whether there is no drawing yet; opts.shape(): the input's [H, W].
  constructor(host, opts) {
    this.host = host; this.opts = opts;
    this.shown = null; this.patched = null;
    host.hidden = servedLocally();
    host.innerHTML = `<div class="why-row"><b>${t("why.title")}</b>
        <label>${t("why.not")} <select data-testid="circuit-contrast"><option value="">${t("why.runnerUp")}</option></select></label>
        <button data-testid="circuit" title="${t("why.circuitTitle")}">${t("why.circuit")}</button>
        <button data-testid="circuit-clear" hidden>${t("why.clear")}</button></div>
      <div class="why-result" data-testid="circuit-result" aria-live="polite"></div>
      <div class="why-row"><b>${t("why.patch")}</b> <label>${t("why.testDigit")} <input type="number" min="0" value="0"
        data-testid="patch-source" inputmode="numeric"></label>
        <label>${t("why.at")} <select data-testid="patch-layer"></select></label>
        <label>${t("why.for")} <select data-testid="patch-neurons"><option value="circuit">${t("why.circuitNeurons")}</option>
          <option value="all">${t("why.everyNeuron")}</option></select></label>
        <button data-testid="patch" title="${t("why.patchTitle")}">${t("why.patchButton")}</button>
        <canvas class="why-thumb" data-testid="patch-thumb" width="28" height="28" hidden></canvas></div>
      <div class="why-result" data-testid="patch-result" aria-live="polite"></div>`;
    const q = (id) => host.querySelector(`[data-testid=${id}]`);
    this.contrast = q("circuit-contrast"); this.layer = q("patch-layer"); this.source = q("patch-source");
    this.circuitOut = q("circuit-result"); this.patchOut = q("patch-result"); this.thumb = q("patch-thumb");
    this.clearButton = q("circuit-clear"); this.which = q("patch-neurons");
    q("circuit").addEventListener("click", () => this.askCircuit());
    q("patch").addEventListener("click", () => this.askPatch());
    this.clearButton.addEventListener("click", () => this.clear());
  }

  setModel(sizes, names) {
    this.names = names; this.sizes = sizes;
    this.contrast.length = 1;
    names.forEach((n, k) => this.contrast.add(new Option(n, String(k))));
    this.layer.length = 0;
    for (let l = 0; l < sizes.length - 2; l++) this.layer.add(new Option(layerName(l, sizes.length - 1), String(l)));
    this.layer.value = String(Math.max(0, sizes.length - 3));
    this.clear();
  }

  stale() { if (this.shown || this.patched) this.clear(); }

  clear() {  // a new drawing or model: the old circuit describes it no longer
    this.shown = null; this.patched = null;
    this.opts.diagram.showCircuit(null);
    this.circuitOut.textContent = ""; this.patchOut.textContent = "";
    this.thumb.hidden = true; this.clearButton.hidden = true;
  }

  async askCircuit() {
    const run = this.opts.run();
    if (!run) return;
    if (this.opts.isEmpty()) { this.circuitOut.textContent = t("why.drawFirst"); return; }
    const body = { run: run.name, ...this.opts.input() };
    if (this.contrast.value !== "") body.contrast = Number(this.contrast.value);
    try {
      const c = await api("api/circuit", body);
      if (body.contrast === undefined || c.target !== body.contrast) this.showCircuit(c);
    } catch (err) {
      this.circuitOut.textContent = err.message;
    }
  }

  showCircuit(c) {
    this.shown = c;
    this.opts.diagram.showCircuit(c);
    this.clearButton.hidden = false;
    const n = this.names;
    const lead = c.nodes.slice(0, 3).map((d) => esc(neuronName(d.layer, d.neuron))).join(", ");
    // the catalogue's sentence is ours; every piece from data is escaped before it goes in
    this.circuitOut.innerHTML = `${t("why.circuitText", {
      target: `<b>${esc(n[c.target])}</b>`, contrast: `<b>${esc(n[c.contrast])}</b>`,
      gap: `<span data-testid="circuit-gap">${num(c.gap, 2)}</span>`,
      count: `<span data-testid="circuit-count">${c.nodes.length}</span>`, lead,
      restored: `<span data-testid="circuit-restored">${pct(c.restored)}</span>`,
      removed: `<span data-testid="circuit-removed">${pct(c.removed)}</span>` })}
      <span class="hint">${t("why.averageHint")}</span>`;
  }

  async askPatch() {
    const run = this.opts.run();
    if (!run) return;
    if (this.opts.isEmpty()) { this.patchOut.textContent = t("why.drawFirst"); return; }
    const index = Number(this.source.value);
    if (this.source.value.trim() === "" || !Number.isInteger(index) || index < 0) {
      this.patchOut.textContent = t("why.giveIndex"); return;
    }
    const layer = Number(this.layer.value);
    const body = { run: run.name, ...this.opts.input(), source_index: index, layer };
    if (this.which.value === "circuit") {
      const mine = (this.shown?.nodes || []).filter((d) => d.layer === layer).map((d) => d.neuron);
      if (!mine.length) {
        this.patchOut.textContent = this.shown ? t("why.noNeuronIn", { layer: layerName(layer, this.sizes.length - 1) })
          : t("why.findFirst");
        return;
      }
      body.neurons = mine;
    }
    try {
      this.showPatch(await api("api/patch", body));
    } catch (err) {
      this.patchOut.textContent = err.message;
    }
  }

  showPatch(p) {
    this.patched = p;
    const n = this.names;
    paintDigit(this.thumb, p.source_image, this.opts.shape());
    this.thumb.hidden = false;
    const moved = p.prediction_after !== p.prediction_before;
    const whole = p.patched.length === this.sizes[p.layer + 1];
    this.patchOut.innerHTML = `${t("why.patchText", {
      before: `<b>${esc(n[p.prediction_before])}</b>`, pBefore: pct(Math.max(...p.probabilities_before)),
      which: whole ? t("why.allOf") : t("why.someOf", { n: p.patched.length }),
      layer: esc(layerName(p.layer, this.sizes.length - 1)), index: p.source_index,
      label: esc(n[p.source_label]), pred: esc(n[p.source_prediction]),
      after: `<b data-testid="patch-after">${esc(n[p.prediction_after])}</b>`,
      pAfter: pct(Math.max(...p.probabilities_after)) })}
      <span class="hint">${whole ? t("why.wholeLayer") : moved ? t("why.followed") : t("why.stayed")}</span>`;
  }
}
