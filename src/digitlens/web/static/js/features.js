// Feature atlases in the explorer: a hidden layer of the diagram shown as its sparse
// autoencoder's features instead of its neurons (a neurons/features switch per layer that has
// an atlas, `digitlens features`), and a feature's card in the inspector's place.
// The features of each drawing are computed in the page (engine.js encodeFeatures, with the
// encoder of GET /api/features); the card's numbers come from GET /api/features/card: the
// feature's decoder direction composed to the input, its strongest test digits, how often it
// fires. Only the firing features are drawn, strongest first: k squares (16 of 2,048), where a
// grid of all 2,048 would shrink every layer's squares to a few pixels and hide the few that
// fire among thousands of dark ones.

import { api, toast } from "./api.js";
import { hue, paint, paintDigit } from "./colors.js";
import { encodeFeatures, featureGap } from "./engine.js";
import { esc } from "./escape.js";
import { num, pct, t } from "./i18n.js";
import { asButton } from "./keyboard.js";
import { markTerms } from "./glossary.js";
import { layerName } from "./numbering.js";
import { input, state, writeURL } from "./state.js";

const MAX_SLOTS = 64;  // squares of a features column at most (k is 16 by default)

export class Features {
  // bar: the switches' element; opts: { diagram, inspector (element), redraw(), open() (a card
  // takes the inspector's place), close() (it gives it back), place(), loadTest(i, image,
  // label, name) }
  constructor(bar, opts) {
    this.bar = bar; this.opts = opts;
    this.run = null; this.nLayers = 0;
    this.atlases = new Map();  // "run/layer" -> Promise of the encoder answer
    this.shown = new Map();    // layer -> { atlas, view } for the layers showing features
    this.card = null;          // { layer, feature, data } on display
    this.last = null;          // the last answer drawn
  }

  // A new run: its layers with an atlas get a switch; a link's layers (state.features) open.
  async setRun(run) {
    for (const layer of [...this.shown.keys()]) this.opts.diagram.setView(layer, null);
    this.shown.clear(); this.card = null;
    this.run = run; this.nLayers = run.sizes.length - 1;
    const layers = run.feature_layers || [];
    this.bar.hidden = !layers.length;
    this.bar.innerHTML = layers.map((l) => `
      <div class="feature-row" data-layer="${l}">
        <fieldset class="feature-switch" data-testid="features-switch-${l}">
          <legend>${esc(t("feat.switch", { layer: layerName(l, this.nLayers) }))}</legend>
          <label><input type="radio" name="feat-${l}" value="neurons" checked> ${esc(t("feat.neurons"))}</label>
          <label><input type="radio" name="feat-${l}" value="features" data-testid="features-on-${l}"> ${esc(t("feat.features"))}</label>
        </fieldset>
        <span class="hint feature-summary" data-testid="features-summary-${l}"></span>
        <div class="feature-list" data-testid="features-list-${l}" hidden></div>
      </div>`).join("");
    for (const radio of /** @type {NodeListOf<HTMLInputElement>} */ (this.bar.querySelectorAll("input[type=radio]"))) {
      radio.addEventListener("change", () => this.toggle(+radio.name.slice(5), radio.value === "features"));
    }
    state.features = state.features.filter((l) => layers.includes(l));
    for (const l of state.features) {
      /** @type {HTMLInputElement} */ (this.bar.querySelector(`[data-testid=features-on-${l}]`)).checked = true;
      await this.toggle(l, true);
    }
  }

  row(layer) { return this.bar.querySelector(`.feature-row[data-layer="${layer}"]`); }

  // The encoder of `layer` (fetched once per run and layer, packed float32).
  atlas(layer) {
    const key = `${this.run.name}/${layer}`;
    if (!this.atlases.has(key)) {
      const q = new URLSearchParams({ run: this.run.name, layer: String(layer), format: "packed" });
      this.atlases.set(key, api(`api/features?${q}`).catch((err) => { this.atlases.delete(key); throw err; }));
    }
    return this.atlases.get(key);
  }

  async toggle(layer, on) {
    const row = this.row(layer), run = this.run;
    if (!on) {
      this.shown.delete(layer);
      if (this.card?.layer === layer) this.closeCard();
      this.opts.diagram.setView(layer, null);
      row.querySelector(".feature-summary").textContent = "";
      row.querySelector(".feature-list").hidden = true;
    } else {
      row.querySelector(".feature-summary").textContent = t("feat.loading");
      let atlas;
      try { atlas = await this.atlas(layer); } catch (err) {
        toast(err.message);
        row.querySelector(".feature-summary").textContent = "";
        /** @type {HTMLInputElement} */ (row.querySelector("input[value=neurons]")).checked = true;
        return;
      }
      if (run !== this.run) return;  // another run meanwhile
      const n = Math.min(atlas.k, MAX_SLOTS, atlas.n_features);
      const view = { n, values: new Float32Array(n), active: [], selected: null,
                     title: () => t("feat.column", { layer: layerName(layer, this.nLayers) }),
                     subtitle: () => t("feat.firing", { k: num(view.active.length), n: num(atlas.n_features) }),
                     name: (i) => (i < view.active.length ? t("feat.name", { j: view.active[i] }) : null) };
      this.shown.set(layer, { atlas, view });
      const summary = row.querySelector(".feature-summary");  // "2,048 features" explains itself
      const count = esc(t("feat.count", { n: num(atlas.n_features) }));  // one term per page (its id)
      summary.innerHTML = (document.getElementById("term-feature") ? count : `<button type="button" class="term" data-term="feature">${count}</button>`) +
        esc(t("feat.summary", { k: num(atlas.k), ev: pct(atlas.explained_variance, 0),
                                acc: pct(atlas.accuracy, 1), spliced: pct(atlas.accuracy_spliced, 1) }));
      markTerms(summary);
      row.querySelector(".feature-list").hidden = false;
      this.opts.diagram.setView(layer, view);
    }
    state.features = [...this.shown.keys()].sort((a, b) => a - b); writeURL();
    if (this.last) this.update(this.last);
    this.opts.redraw();
  }

  // New numbers (before the diagram draws them): each shown layer's features of this drawing.
  update(res) {
    this.last = res;
    for (const [layer, { atlas, view }] of this.shown) {
      const a = res.activations?.[layer];
      const f = res.has_ink === false || !a ? { values: null, active: [] } : encodeFeatures(atlas, a);
      view.active = f.active.slice(0, view.n);
      view.values.fill(0);
      view.active.forEach((j, i) => { view.values[i] = f.values[j]; });
      view.selected = this.card?.layer === layer ? this.slotOf(layer, this.card.feature) : null;
      this.list(layer, view);
    }
    if (this.card) this.cardNow();
  }

  /**
   * Circuit `c`'s gap split over the last hidden layer's features (featuregap.js, on the
   * activations the circuit read and the page's network `net`): {layer, terms, …} while that
   * layer shows features, {offer: layer} when it has an atlas not shown, else null (no atlas,
   * one of an earlier layer only, or no network in the page: ?compute=server).
   */
  gapOf(c, net) {
    const layer = this.nLayers - 2, shown = this.shown.get(layer);
    if (!net || !c.hidden) return null;
    if (!shown) return (this.run?.feature_layers || []).includes(layer) ? { offer: layer } : null;
    const f = encodeFeatures(shown.atlas, c.hidden);
    return { layer, ...featureGap(net, shown.atlas, c.hidden, f, c.target, c.contrast) };
  }

  /** Show `layer` as features (its switch set, as a click on it would). */
  async showLayer(layer) {
    const radio = /** @type {HTMLInputElement|null} */ (this.bar.querySelector(`[data-testid=features-on-${layer}]`));
    if (!radio || radio.checked) return;
    radio.checked = true;
    await this.toggle(layer, true);
  }

  slotOf(layer, feature) {
    const i = this.shown.get(layer)?.view.active.indexOf(feature) ?? -1;
    return i < 0 ? null : i;
  }

  // The firing features as buttons (the keyboard's and a finger's way to a card).
  list(layer, view) {
    const el = this.row(layer).querySelector(".feature-list");
    const key = view.active.join(",");
    if (el.dataset.key !== key || !el.childElementCount) {
      el.dataset.key = key;
      el.innerHTML = `<span>${esc(view.active.length ? t("feat.listHead") : t("feat.none"))}</span>` +
        view.active.map((j) => `<button type="button" data-feature="${j}" data-testid="feature-${layer}-${j}"></button>`).join("");
      for (const b of /** @type {NodeListOf<HTMLElement>} */ (el.querySelectorAll("button"))) {
        b.addEventListener("click", () => this.open(layer, +b.dataset.feature));
      }
    }
    view.active.forEach((j, i) => {
      const b = el.querySelector(`button[data-feature="${j}"]`);
      b.textContent = `#${j} · ${num(view.values[i], 2)}`;
      b.setAttribute("aria-pressed", String(this.card?.layer === layer && this.card.feature === j));
    });
  }

  // A click on the diagram: true when `layer` shows features (slot `i` opens its card).
  pick(layer, i) {
    const shown = this.shown.get(layer);
    if (!shown) return false;
    const feature = shown.view.active[i];
    if (feature !== undefined) this.open(layer, feature);
    return true;
  }

  async open(layer, feature) {
    const q = new URLSearchParams({ run: this.run.name, layer: String(layer), feature: String(feature) });
    let d;
    try { d = await api(`api/features/card?${q}`); } catch (err) { toast(err.message); return; }
    if (!this.shown.has(layer)) return;
    this.opts.open();
    this.card = { layer, feature, data: d };
    this.renderCard();
    if (this.last) this.update(this.last);
    this.opts.redraw();
  }

  closeCard() {
    if (!this.card) return;
    this.card = null;
    this.opts.close();
    if (this.last) this.update(this.last);
  }

  // The neuron inspector took the place: the card is gone.
  forget() { this.card = null; if (this.last) this.update(this.last); }

  renderCard() {
    const { layer, data: d } = this.card, el = this.opts.inspector, [h, w] = input.shape;
    const mostly = d.mostly ? t("feat.mostly", { name: this.run.class_names[d.mostly.label] ?? d.mostly.label,
                                                 k: d.mostly.count, n: d.mostly.of }) : "";
    el.innerHTML = `
      <div class="insp-head"><h2>${esc(t("feat.cardTitle"))}</h2><b data-testid="feature-title">${esc(layerName(layer, this.nLayers))} · ${esc(t("feat.name", { j: d.feature }))}</b>
        <span class="hint" data-testid="feature-frequency">${esc(t("feat.fires", { p: pct(d.frequency, d.frequency < 0.1 ? 1 : 0) }))}</span>
        <button class="png" id="feat-close" title="${esc(t("insp.close"))}" aria-label="${esc(t("feat.closeAria"))}">✕</button></div>
      <div class="feature-side">
        <p class="feature-now" data-testid="feature-now" aria-live="polite"></p>
        <p class="explain">${esc(t("feat.what", { n: num(d.n_features), layer: layerName(layer, this.nLayers) }))}</p>
      </div>
      <div class="insp-imgs">
        <figure class="feature-figure"><canvas id="feat-dir" data-testid="feature-direction" width="${w}" height="${h}" role="img"
          aria-label="${esc(t("feat.dirAria", { pos: hue("pos"), neg: hue("neg") }))}"></canvas>${esc(t("feat.direction", { field: `${h}×${w}` }))}<br>
          <small>${esc(t("feat.dirHint", { pos: hue("pos"), neg: hue("neg") }))}</small></figure>
      </div>
      <p class="explain">${esc(t("feat.topTest"))} ${esc(mostly)}</p>
      <div class="excite" data-testid="feature-top"></div>`;
    paint(el.querySelector("#feat-dir"), d.image, w, h, "diverging", d.limit || null);
    const top = el.querySelector("[data-testid=feature-top]");
    for (const digit of d.top_test) {
      const c = document.createElement("canvas");
      const name = this.run.class_names[digit.label] ?? digit.label;
      c.title = t("insp.topTitle", { i: digit.index, label: name, v: num(digit.value, 3) });
      paintDigit(c, digit.image, input.shape);
      c.addEventListener("click", () => this.opts.loadTest(digit.index, digit.image, digit.label));
      asButton(c, t("insp.topAria", { i: digit.index, label: name, v: num(digit.value, 2) }), () => c.click());
      top.appendChild(c);
    }
    el.querySelector("#feat-close").addEventListener("click", () => this.closeCard());
    el.hidden = false;
    this.cardNow();
    this.opts.place();
  }

  // The card's value for the drawing on the pad, kept current while drawing.
  cardNow() {
    const el = this.opts.inspector.querySelector("[data-testid=feature-now]"), shown = this.shown.get(this.card.layer);
    if (!el || !shown) return;
    const { view } = shown, i = this.slotOf(this.card.layer, this.card.feature);
    el.textContent = !this.last || this.last.has_ink === false ? t("feat.drawFirst")
      : i === null ? t("feat.silent", { k: num(view.active.length) })
        : t("feat.value", { v: num(view.values[i], 3), rank: i + 1, k: num(view.active.length) });
  }
}
