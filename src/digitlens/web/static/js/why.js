// "Why this answer and not that one?", under the network diagram. Circuit: the few hidden
// neurons that make the prediction beat another class, found by mean-ablation and ringed on
// the diagram, with the signals between them. The circuit button is a switch: while it is on,
// the circuit follows the drawing, recomputed in the page (circuit.js, with the run's hidden
// means fetched once from GET api/runs/NAME/means) on every change before the diagram is
// drawn; a page without its own engine (?compute=server) asks POST /api/circuit instead.
// Patch (POST /api/patch): the drawing run again with a test digit's activations at one hidden
// layer, for the ringed circuit's neurons there or for the whole layer (which always gives
// the test digit's answer: what follows reads only that layer). If the answer moves to the
// test digit's with the circuit's few neurons alone, they carried the difference. Or the
// neurons you pick: with "neurons you pick", a click on a neuron of the patch layer (on the
// diagram, or its button in the layer picker) carries it over or drops it, and the patch runs
// again at once, so the answer moves as neurons go from one digit to the other.
// The single-file explorer offers the circuit (it carries the means) but not the patch, which
// needs the server's test set.

import { api, servedLocally } from "./api.js";
import { circuit } from "./engine.js";
import { esc } from "./escape.js";
import { paintDigit } from "./colors.js";
import { num, pct, t, tn } from "./i18n.js";
import { layerName, neuronName } from "./numbering.js";

export class Why {
  // host: the element to fill; opts.run() the current run; opts.input() the current input
  // spec (as /api/predict takes it); opts.diagram: the Diagram to draw the circuit on;
  // opts.isEmpty(): whether there is no drawing yet; opts.shape(): the input's [H, W];
  // opts.net(): the page's Network (null: the server computes); opts.redraw(): compute and
  // draw the current drawing again (update() is then called with the new answer);
  // opts.features: the page's Features, which split the gap over the last hidden layer's
  // atlas (featuregap.js) while that layer shows features.
  constructor(host, opts) {
    this.host = host; this.opts = opts;
    this.shown = null; this.patched = null;
    this.live = false;  // the circuit follows the drawing
    this.means = new Map();  // run name -> {value: Float64Array per hidden layer} or {error}
    this.asking = false; this.again = false;  // a server question in flight; another waiting
    host.innerHTML = `<div class="why-row"><b>${t("why.title")}</b>
        <label>${t("why.not")} <select data-testid="circuit-contrast"><option value="">${t("why.runnerUp")}</option></select></label>
        <button data-testid="circuit" aria-pressed="false" title="${t("why.circuitTitle")}">${t("why.circuit")}</button>
        <button data-testid="circuit-clear" hidden>${t("why.clear")}</button></div>
      <div class="why-result" data-testid="circuit-result" aria-live="polite"></div>
      <div class="why-row"><b>${t("why.patch")}</b> <label>${t("why.testDigit")} <input type="number" min="0" value="0"
        data-testid="patch-source" inputmode="numeric"></label>
        <label>${t("why.at")} <select data-testid="patch-layer"></select></label>
        <label>${t("why.for")} <select data-testid="patch-neurons"><option value="circuit">${t("why.circuitNeurons")}</option>
          <option value="picked">${t("why.pickedNeurons")}</option>
          <option value="all">${t("why.everyNeuron")}</option></select></label>
        <button data-testid="patch" title="${t("why.patchTitle")}">${t("why.patchButton")}</button>
        <canvas class="why-thumb" data-testid="patch-thumb" width="28" height="28" hidden></canvas></div>
      <div class="why-picked" data-testid="patch-picked" hidden></div>
      <div class="why-result" data-testid="patch-result" aria-live="polite"></div>`;
    const q = (id) => host.querySelector(`[data-testid=${id}]`);
    this.contrast = q("circuit-contrast"); this.layer = q("patch-layer"); this.source = q("patch-source");
    this.circuitOut = q("circuit-result"); this.patchOut = q("patch-result"); this.thumb = q("patch-thumb");
    this.clearButton = q("circuit-clear"); this.which = q("patch-neurons");
    this.toggle = q("circuit");
    this.pickedOut = q("patch-picked");
    this.picked = [];  // [neuron] of the patch layer, picked on the diagram, in the order picked
    this.asked = 0;  // patches asked: an answer to an older question is not shown
    this.which.addEventListener("change", () => this.showPicked());
    this.layer.addEventListener("change", () => { this.picked = []; this.unpatch(); this.showPicked(); });
    this.toggle.addEventListener("click", () => this.follow(!this.live));
    this.contrast.addEventListener("change", () => { if (this.live) this.refresh(); });
    q("patch").addEventListener("click", () => this.askPatch());
    if (servedLocally()) {  // no server: no patch
      this.patchOut.hidden = true;
      /** @type {HTMLElement} */ (this.thumb.parentElement).hidden = true;
    }
    this.clearButton.addEventListener("click", () => this.follow(false));
  }

  /** Turn following the drawing on or off. */
  follow(on) {
    this.live = on;
    this.toggle.setAttribute("aria-pressed", String(on));
    // a sentence rewritten on every stroke is not read out each time
    this.circuitOut.setAttribute("aria-live", on ? "off" : "polite");
    if (on) this.refresh(); else this.clear();
  }

  // the current drawing's circuit: in the page when it can, else from the server
  refresh() {
    if (this.opts.net()) this.opts.redraw(); else this.askCircuit();
  }

  /** The run's hidden means, asked once per run: {value} or {error}, empty until answered. */
  meansOf(run) {
    if (!this.means.has(run.name)) {
      const got = {};
      this.means.set(run.name, got);
      api(`api/runs/${encodeURIComponent(run.name)}/means`)
        .then((d) => { got.value = d.means.map((m) => Float64Array.from(m)); },
              (err) => { got.error = err.message; })
        .then(() => { if (this.live && this.opts.run() === run) this.opts.redraw(); });
    }
    return this.means.get(run.name);
  }

  /**
   * A new answer is about to be drawn (main.js's render): while following, its circuit is
   * computed here and handed to the diagram, which rings it in the same redraw.
   */
  update(res) {
    if (!this.live) return;
    const net = this.opts.net(), run = this.opts.run();
    if (!net) { this.askCircuit(); return; }
    const none = (message) => { this.shown = null; this.opts.diagram.circuit = null; this.circuitOut.textContent = message; };
    if (net.nLayers < 2) { none(t("why.noHidden")); return; }
    if (!res.has_ink) { none(t("why.drawFirst")); return; }
    const means = this.meansOf(run);
    if (means.error) { none(means.error); return; }
    if (!means.value) return;  // drawn again when they arrive
    const contrast = this.contrast.value === "" ? undefined : Number(this.contrast.value);
    if (contrast === res.prediction) { none(t("why.sameClass", { name: this.names[contrast] })); return; }
    let c;
    try {
      c = circuit(net, res.input, means.value, { contrast });
    } catch (err) {
      none(err.message);
      return;
    }
    this.shown = c;
    this.opts.diagram.circuit = c;  // drawn by the redraw that follows
    this.describe(c);
  }

  /**
   * A neuron chosen on the diagram or by the layer picker: while the patch is for neurons
   * you pick and it is of the patch layer, it joins the picked ones (or leaves them) and the
   * patch runs again; true when it was taken so (the inspector does not open).
   */
  pick(layer, neuron) {
    if (this.which.value !== "picked" || layer !== Number(this.layer.value)) return false;
    const at = this.picked.indexOf(neuron);
    if (at >= 0) this.picked.splice(at, 1); else this.picked.push(neuron);
    this.showPicked(at >= 0 ? at : null);
    if (!this.picked.length) this.unpatch();  // nothing carried over: no answer to show
    else if (this.source.value.trim() !== "") this.askPatch();
    return true;
  }

  unpatch() {
    this.asked++;  // an answer still on its way describes what is gone
    this.patched = null; this.patchOut.textContent = ""; this.thumb.hidden = true;
  }

  // the picked neurons: dashed squares on the diagram, and a button each to drop one (when one
  // was dropped with its button, `dropped`: its place, the focus goes to the next one's)
  showPicked(dropped = null) {
    if (!this.sizes) return;
    const on = this.which.value === "picked", layer = Number(this.layer.value);
    const focused = dropped !== null && this.pickedOut.contains(document.activeElement);
    this.pickedOut.hidden = !on;
    if (on) {
      const name = esc(layerName(layer, this.sizes.length - 1));
      this.pickedOut.innerHTML = `<span class="hint">${t("why.pickHint", { layer: name })}</span> ` +
        this.picked.map((j) => `<button type="button" data-neuron="${j}" data-testid="patch-picked-${j}"
          aria-label="${esc(t("why.dropNeuron", { name: neuronName(layer, j) }))}">${esc(neuronName(layer, j))} ✕</button>`).join(" ");
      const buttons = /** @type {NodeListOf<HTMLElement>} */ (this.pickedOut.querySelectorAll("button"));
      for (const b of buttons) b.addEventListener("click", () => this.pick(layer, +b.dataset.neuron));
      if (focused) (buttons[Math.min(dropped, buttons.length - 1)] ?? this.which).focus();
    }
    this.opts.diagram.showPicked(on ? this.picked.map((neuron) => ({ layer, neuron })) : []);
  }

  setModel(sizes, names) {
    this.names = names; this.sizes = sizes;
    this.contrast.length = 1;
    names.forEach((n, k) => this.contrast.add(new Option(n, String(k))));
    this.layer.length = 0;
    for (let l = 0; l < sizes.length - 2; l++) this.layer.add(new Option(layerName(l, sizes.length - 1), String(l)));
    this.layer.value = String(Math.max(0, sizes.length - 3));
    this.picked = [];
    this.clear();
    this.showPicked();
  }

  // a new drawing: a patch (and a circuit asked once) describes it no longer; a circuit that
  // follows the drawing is recomputed with the drawing's next answer
  stale() {
    if (!this.live) { if (this.shown || this.patched) this.clear(); return; }
    if (this.patched) { this.patched = null; this.patchOut.textContent = ""; this.thumb.hidden = true; }
  }

  clear() {  // a new model, or the circuit switched off
    this.shown = null; this.patched = null;
    this.opts.diagram.showCircuit(null);
    this.circuitOut.textContent = ""; this.patchOut.textContent = "";
    this.thumb.hidden = true; this.clearButton.hidden = true;
  }

  // the server's circuit (a page without its own engine): one question at a time
  async askCircuit() {
    const run = this.opts.run();
    if (!run) return;
    if (this.asking) { this.again = true; return; }  // asked again with the drawing it ends on
    if (this.opts.isEmpty()) {
      if (this.shown) { this.shown = null; this.opts.diagram.showCircuit(null); }
      this.circuitOut.textContent = t("why.drawFirst");
      return;
    }
    const body = { run: run.name, ...this.opts.input() };
    if (this.contrast.value !== "") body.contrast = Number(this.contrast.value);
    this.asking = true;
    try {
      const c = await api("api/circuit", body);
      if (this.live && (body.contrast === undefined || c.target !== body.contrast)) this.showCircuit(c);
    } catch (err) {
      this.circuitOut.textContent = err.message;
    } finally {
      this.asking = false;
    }
    if (this.again && this.live) { this.again = false; this.askCircuit(); }
  }

  showCircuit(c) {
    this.shown = c;
    this.opts.diagram.showCircuit(c);
    this.describe(c);
  }

  describe(c) {
    this.clearButton.hidden = false;
    // rewritten on every stroke: a keyboard's focus on one of its buttons stays on that button
    const had = this.circuitOut.contains(document.activeElement)
      ? /** @type {HTMLElement} */ (document.activeElement).dataset.testid : null;
    const n = this.names;
    const lead = c.nodes.slice(0, 3).map((d) => esc(neuronName(d.layer, d.neuron))).join(", ");
    // the catalogue's sentence is ours; every piece from data is escaped before it goes in
    this.circuitOut.innerHTML = `${t("why.circuitText", {
      target: `<b>${esc(n[c.target])}</b>`, contrast: `<b>${esc(n[c.contrast])}</b>`,
      gap: `<span data-testid="circuit-gap">${num(c.gap, 2)}</span>`,
      count: `<span data-testid="circuit-count">${c.nodes.length}</span>`, lead,
      restored: `<span data-testid="circuit-restored">${pct(c.restored)}</span>`,
      removed: `<span data-testid="circuit-removed">${pct(c.removed)}</span>` })}
      <span class="hint">${t("why.averageHint")}</span>${this.inFeatures(c)}`;
    for (const b of /** @type {NodeListOf<HTMLElement>} */ (this.circuitOut.querySelectorAll("[data-feature]"))) {
      b.addEventListener("click", () => this.opts.features?.open(+b.dataset.layer, +b.dataset.feature));
    }
    this.circuitOut.querySelector("[data-testid=circuit-features-show]")?.addEventListener("click", async (e) => {
      await this.opts.features?.showLayer(+(/** @type {HTMLElement} */ (e.currentTarget)).dataset.layer);
      /** @type {HTMLElement|null} */ (this.circuitOut.querySelector("[data-feature]"))?.focus();  // the button is gone
    });
    if (had) /** @type {HTMLElement|null} */ (this.circuitOut.querySelector(`[data-testid="${had}"]`))?.focus();
  }

  // The gap in the words of the last hidden layer's atlas: its strongest features each way
  // (buttons to their cards) and what adds up to the gap; or a button to show that layer as
  // features when it has an atlas not shown.
  inFeatures(c) {
    const g = this.opts.features?.gapOf(c, this.opts.net()), n = this.names;
    if (!g) return "";
    const layer = esc(layerName(g.offer ?? g.layer, this.sizes.length - 1));
    if (g.offer !== undefined) {
      return `<p class="why-features">${t("why.featOffer", { layer })} <button type="button" data-testid="circuit-features-show"
        data-layer="${g.offer}">${t("why.featShow")}</button></p>`;
    }
    const signed = (x) => `${x < 0 ? "−" : "+"}${num(Math.abs(x), 2)}`;
    const list = (terms) => terms.map((d) => `<button type="button" data-layer="${g.layer}" data-feature="${d.feature}"
      data-testid="circuit-feature-${d.feature}" aria-label="#${d.feature} ${signed(d.effect)}: ${esc(t("why.featOpen", { j: d.feature }))}">#${d.feature} ${signed(d.effect)}</button>`).join(" ");
    const up = g.terms.filter((d) => d.effect > 0).slice(0, 3), down = g.terms.filter((d) => d.effect < 0).slice(-2).reverse();
    const parts = [up.length ? t("why.featTowards", { list: list(up), target: `<b>${esc(n[c.target])}</b>` }) : "",
                   down.length ? t("why.featAgainst", { list: list(down), contrast: `<b>${esc(n[c.contrast])}</b>` }) : ""];
    const said = g.terms.length ? `${parts.filter(Boolean).join("; ")}.` : t("why.featNone");
    return `<p class="why-features" data-testid="circuit-features">${t("why.featHead", { layer })} ${said}
      <span class="hint">${tn("why.featSum", g.terms.length, { sum: `<span data-testid="circuit-features-sum">${signed(g.features_sum)}</span>`,
        bias: signed(g.decoder_bias), missed: `<span data-testid="circuit-features-missed">${signed(g.missed)}</span>`,
        out: signed(g.bias_difference), gap: num(g.gap, 2) })}</span></p>`;
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
    } else if (this.which.value === "picked") {
      if (!this.picked.length) {
        this.patchOut.textContent = t("why.pickFirst", { layer: layerName(layer, this.sizes.length - 1) });
        return;
      }
      body.neurons = [...this.picked];
    }
    const asked = ++this.asked;
    try {
      const p = await api("api/patch", body);
      if (asked === this.asked) this.showPatch(p);
    } catch (err) {
      if (asked === this.asked) this.patchOut.textContent = err.message;
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
      which: whole ? t("why.allOf") : tn("why.someOf", p.patched.length),
      layer: esc(layerName(p.layer, this.sizes.length - 1)), index: p.source_index,
      label: esc(n[p.source_label]), pred: esc(n[p.source_prediction]),
      after: `<b data-testid="patch-after">${esc(n[p.prediction_after])}</b>`,
      pAfter: pct(Math.max(...p.probabilities_after)) })}
      <span class="hint">${whole ? t("why.wholeLayer") : moved ? t("why.followed") : t("why.stayed")}</span>`;
  }
}
