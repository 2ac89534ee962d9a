// The learning views' structure: the step card's texts and the guided story's eight chapters.
// The words themselves are in the language catalogues (lang-en.js, lang-de.js, keys "step.*"
// and "story.*"); here they are filled with the numbers, written the reader's way. Plain words
// first; the maths one tap away.

import { num, pct, sig, t, tn } from "./i18n.js";

export const TEXT = {
  title: t("step.title"),
  hint: t("step.hint"),
  teach: t("step.teach"),
  lr: t("step.lr"),
  lrHint: t("step.lrHint"),
  optimizer: t("step.optimizer"),
  optimizers: { sgd: t("step.opt.sgd"), momentum: t("step.opt.momentum"), adam: t("step.opt.adam") },
  go: t("step.go"),
  undo: t("step.undo"),
  reset: t("step.reset"),
  lossWord: t("step.lossWord"),
  lossExplain: t("step.lossExplain"),
  probsTitle: t("step.probsTitle"),
  deltasTitle: t("step.deltasTitle"),
  get deltasExplain() { return t("step.deltasExplain"); },  // names the palette's colours
  changesTitle: t("step.changesTitle"),
  get changesExplain() { return t("step.changesExplain"); },
  firstLayer: t("step.firstLayer"),
  layerMatrix: (layer, weights, nOut, nIn) => t("step.layerMatrix", { layer, weights, nOut: num(nOut), nIn: num(nIn) }),
  largest: t("step.largest"),
  mathsSummary: t("step.mathsSummary"),
  maths: [t("step.maths1"), t("step.maths2"), t("step.maths3"), t("step.maths4")],
  accuracyLoading: t("step.accuracyLoading"),
  accuracy: (n, before, after, changed) => t("step.accuracy", {
    n: num(n), before, after, changed: changed ? tn("step.changed", changed) : t("step.changed.none") }),
  stepped: (k) => tn("step.stepped", k),
  undone: (k) => (k ? tn("step.undone", k) : t("step.undoneAll")),
  resetDone: t("step.resetDone"),
  noInk: t("step.noInk"),
  needsPage: t("step.needsPage"),
  flipped: (from, to) => t("step.flipped", { from, to }),
  stayed: (name) => t("step.stayed", { name }),
};

// A stated number: whole above 100, two decimals above 1, else two significant digits.
const n2 = (v) => (Math.abs(v) >= 100 ? num(v, 0) : Math.abs(v) >= 1 ? num(v, 2) : sig(v, 2));
const p1 = (v) => pct(v, 1);
export const fmtNumber = n2;
export const fmtPercent = p1;

const MEASURED = new Set(["brightest", "sum", "bias", "z", "value", "push", "pull", "score", "z1", "z2",
                          "loss", "lossSecond", "like", "hate"]);

// The facts story.js reads off the network and drawing, written for reading: measured values
// rounded (n2), counts grouped, probabilities as percentages (pPct, p2Pct).
function written(f) {
  const out = {};
  for (const [k, v] of Object.entries(f)) {
    out[k] = typeof v !== "number" ? v : MEASURED.has(k) ? n2(v) : num(v);
  }
  return Object.assign(out, { pPct: p1(f.p), p2Pct: p1(f.p2), pullNeg: n2(-f.pull) });
}

// The guided story: eight chapters, each a title, plain words and the maths. `focus`: the
// explorer card the chapter talks about (story.js highlights it); `inspect`: the chapter opens
// its neuron in the explorer's neuron inspector.
const chapter = (key, focus, inspect = false) => ({
  title: t(`story.${key}.title`), focus, inspect,
  plain: (f) => t(`story.${key}.plain`, written(f)),
  maths: (f) => t(`story.${key}.maths`, written(f)),
});

export const STORY = {
  tab: t("story.tab"),
  next: t("story.next"),
  prev: t("story.prev"),
  plain: t("story.plain"),
  maths: t("story.maths"),
  progress: (k, n) => t("story.progress", { k, n }),
  noHidden: t("story.noHidden"),
  needsDrawing: t("story.needsDrawing"),
  firing: (count, n, layer) => t("story.firing", { count: num(count), n: num(n), layer }),
  measuring: t("story.measuring"),
  accuracy: (right, n, acc) => t("story.accuracy", { right: num(right), n: num(n), p: p1(acc) }),
  chapters: [
    chapter("sees", ".strip-card"),
    chapter("neuron", ".network-card", true),
    chapter("layers", ".network-card"),
    chapter("evidence", ".evidence-card"),
    chapter("answer", ".predict-card"),
    chapter("learned", ".step-card"),
    chapter("fails", ".draw-card"),
    chapter("looks", ".network-card", true),
  ],
};
