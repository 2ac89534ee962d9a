// The guided story (the Learn tab): eight chapters walk through the explorer's own views, from
// the pixels to one gradient step. Each chapter highlights the card it talks about and states
// numbers read off the current network and drawing by the engine (facts below); the words
// come from learn-text.js. Two levels, tied together: plain words, and the maths one tap away.

import { accuracy, activeAbove, arithmetic } from "./engine.js";
import { STORY } from "./learn-text.js";
import { layerName, neuronName } from "./numbering.js";

const FOCUS = "story-focus";

/** The numbers every chapter states, for the network `net` and the explorer's answer `res`. */
export function storyFacts(net, res, classNames) {
  const x = res.input, P = net.sizes[0], t = net.trace(x), L = net.nLayers;
  let inked = 0, brightest = 0;
  for (const v of x) { if (v > 0) inked++; if (v > brightest) brightest = v; }
  const first = t.activations[0];
  let j = 0;
  for (let i = 1; i < first.length; i++) if (first[i] > first[j]) j = i;
  const ar = arithmetic(net, t, 0, j);
  const firing = t.activations.slice(0, -1).map((a, l) => {
    const cut = activeAbove(net.activations[l], a.length);
    return STORY.firing(a.filter((v) => v > cut).length, a.length, layerName(l, L));
  });
  const probs = t.probabilities, order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a] || a - b);
  const [c1, c2] = order, zs = t.zs[L - 1];
  let push = 0, pull = 0;
  const contrib = res.evidence.contributions;
  for (let i = 0; i < P; i++) { const v = contrib[c1 * P + i]; if (v > 0) push += v; else pull += v; }
  const w = net.weights[0], nOut = net.sizes[1], [H, W] = net.inputShape;
  let like = 0, hate = 0;
  for (let i = 1; i < P; i++) {
    if (w[i * nOut + j] > w[like * nOut + j]) like = i;
    if (w[i * nOut + j] < w[hate * nOut + j]) hate = i;
  }
  const known = ["cross_entropy", "quadratic"].includes(net.cost);
  return {
    pixels: P, shape: `${H}×${W}`, inked, brightest, neuron: neuronName(0, j), layer0: j,
    sum: ar.sum, bias: ar.bias, z: ar.z, value: ar.value, activation: ar.activation, active: ar.n_active,
    sizes: net.sizes.join("-"), firing: firing.join(", ") || STORY.noHidden,
    params: net.sizes.slice(1).reduce((n, s, l) => n + s * net.sizes[l] + s, 0),
    answer: classNames[c1], second: classNames[c2], p: probs[c1], p2: probs[c2], z1: zs[c1], z2: zs[c2],
    classes: probs.length, push, pull, score: res.evidence.scores[c1],
    loss: known ? net.gradients(x, c1).loss : NaN, lossSecond: known ? net.gradients(x, c2).loss : NaN,
    like: w[like * nOut + j], hate: w[hate * nOut + j],
    likeRow: Math.floor(like / W), likeCol: like % W, hateRow: Math.floor(hate / W), hateCol: hate % W,
    accuracy: STORY.measuring,
  };
}

export class Story {
  /** hooks: net(), last() the explorer's answer, classNames(), testDigits() (promise),
   * inspect(layer, neuron) opens a neuron in the explorer's inspector, uninspect() closes it. */
  constructor(card, hooks) {
    this.card = card; this.hooks = hooks; this.k = 0; this.maths = false; this.facts = null;
    /** @type {(id: string) => any} */
    const q = (id) => card.querySelector(`[data-testid="${id}"]`);
    this.title = q("story-title"); this.progress = q("story-progress");
    this.level = q("story-level"); this.text = q("story-text"); this.prevBtn = q("story-prev");
    this.nextBtn = q("story-next");
    this.prevBtn.textContent = STORY.prev; this.nextBtn.textContent = STORY.next;
    this.prevBtn.addEventListener("click", () => this.go(this.k - 1));
    this.nextBtn.addEventListener("click", () => this.go(this.k + 1));
    this.level.addEventListener("click", () => { this.maths = !this.maths; this.render(); });
    this.accuracyFor = new WeakMap();
  }

  open(on) {
    this.card.hidden = !on;
    if (!on) this.closeInspector();
    document.querySelectorAll(`.${FOCUS}`).forEach((el) => el.classList.remove(FOCUS));
    if (on) this.go(this.k);
  }

  go(k) {
    const n = STORY.chapters.length;
    this.k = Math.max(0, Math.min(n - 1, k));
    this.render();
    const target = document.querySelector(STORY.chapters[this.k].focus);
    document.querySelectorAll(`.${FOCUS}`).forEach((el) => el.classList.remove(FOCUS));
    if (target && !target.hidden) {
      target.classList.add(FOCUS);
      target.scrollIntoView({ block: "start" });  // just under the story bar (scroll-margin-top)
    }
    if (STORY.chapters[this.k].inspect && this.facts) {
      this.hooks.inspect(0, this.facts.layer0);
      this.inspecting = true;
    } else this.closeInspector();
  }

  // The inspector a chapter opened closes with it (it would hide the cards other chapters show).
  closeInspector() {
    if (this.inspecting) this.hooks.uninspect();
    this.inspecting = false;
  }

  /** The explorer drew a new answer: the chapter's numbers follow it. */
  update() { if (!this.card.hidden) this.render(); }

  render() {
    const ch = STORY.chapters[this.k], n = STORY.chapters.length, res = this.hooks.last(), net = this.hooks.net();
    this.title.textContent = ch.title;
    this.progress.textContent = STORY.progress(this.k + 1, n);
    this.level.textContent = this.maths ? STORY.maths : STORY.plain;
    this.level.setAttribute("aria-pressed", String(this.maths));
    this.prevBtn.disabled = this.k === 0;
    this.nextBtn.disabled = this.k === n - 1;
    if (!net || !res || !res.has_ink) { this.facts = null; this.text.textContent = STORY.needsDrawing; return; }
    this.facts = storyFacts(net, res, this.hooks.classNames());
    const known = this.accuracyFor.get(net);
    if (known) this.facts.accuracy = known; else this.measure(net);
    this.text.textContent = (this.maths ? ch.maths : ch.plain)(this.facts);
  }

  async measure(net) {
    try {
      const d = await this.hooks.testDigits();
      const { accuracy: acc } = accuracy(net, d.images, d.labels);
      const right = Math.round(acc * d.labels.length);
      this.accuracyFor.set(net, STORY.accuracy(right, d.labels.length, acc));
      if (this.hooks.net() === net) this.render();
    } catch { /* the chapter keeps saying it is measuring */ }
  }
}
