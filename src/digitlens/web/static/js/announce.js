// What the page shows, said in words for screen readers: the prediction after each stroke
// ("Reads 7, 92% sure; next 9, 5%") in a polite live region, and a text alternative for the
// network diagram (how many neurons of each layer fire, and the strongest). Announced once the
// drawing has been still for a moment, so a reader is not flooded while a stroke is drawn.

import { activeAbove } from "./engine.js";
import { layerName, neuronName } from "./numbering.js";
import { num, pct as share, t } from "./i18n.js";

const QUIET_MS = 600;
const pct = (p) => share(p);

// "Reads 7, 92% sure; next 9, 5%": the best two classes in plain words.
export function predictionWords(res, names, thing = "digit") {
  if (res.prediction === null || res.has_ink === false) return t(`say.empty.${thing}`);
  const order = Array.from(res.probabilities.keys()).sort((a, b) => res.probabilities[b] - res.probabilities[a]);
  const [first, second] = order, name = (c) => names[c] ?? String(c);
  const next = second === undefined ? "" : t("say.next", { name: name(second), p: pct(res.probabilities[second]) });
  return t("say.reads", { name: name(first), p: pct(res.probabilities[first]), next });
}

// The diagram in words: per layer, how many neurons are active and which three fire hardest;
// `picking`: the page has the layer buttons to choose a neuron with (the student's page has not).
export function diagramWords(res, sizes, activations, names, picking = true) {
  const nLayers = sizes.length - 1, parts = [];
  const inked = Array.prototype.filter.call(res.input, (v) => v > 0).length;
  parts.push(t("say.input", { inked: num(inked), n: num(sizes[0]) }));
  res.activations.forEach((values, l) => {
    if (l === nLayers - 1) return;
    const cut = activeAbove(activations[l], values.length);
    const order = Array.from(values.keys()).sort((a, b) => values[b] - values[a]);
    const active = order.filter((i) => values[i] > cut).length;
    const top = order.slice(0, Math.min(3, active)).map((i) => `${neuronName(l, i)} (${num(values[i], 2)})`);
    parts.push(t(top.length ? "say.layerTop" : "say.layer", { layer: layerName(l, nLayers), active: num(active),
                                                              n: num(values.length), top: top.join(", ") }));
  });
  const probs = Array.from(res.probabilities), best = probs.indexOf(Math.max(...probs));
  parts.push(t(picking ? "say.output" : "say.outputOnly", { name: names[best] ?? best, p: pct(probs[best]) }));
  return parts.join(" ");
}

export class Announcer {
  // region: the aria-live element; diagram: the canvas whose aria-label describes it
  constructor(region, diagram) {
    this.region = region; this.diagram = diagram; this.timer = null; this.last = "";
  }

  // Called with every answer; speaks once the answers stop coming for QUIET_MS.
  update(res, run, thing) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const words = predictionWords(res, run.class_names, thing);
      const empty = res.prediction === null || res.has_ink === false;
      const quietStart = !this.last && empty;  // nothing drawn yet: say nothing
      if (words !== this.last && !quietStart) { this.region.textContent = words; this.last = words; }
      if (res.activations && res.input) {
        this.diagram.setAttribute("aria-label", diagramWords(res, run.sizes, run.activations, run.class_names));
      }
    }, QUIET_MS);
  }
}
