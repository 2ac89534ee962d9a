// Every sentence the learning views show, in one catalogue: a translation is a copy of this
// file. Plain words first; the maths one tap away.

export const TEXT = {
  title: "Teach it: one gradient step",
  hint: "pick the answer you want, press Step: every weight moves a little towards that answer",
  teach: "teach it this is",
  lr: "learning rate",
  lrHint: "how big a step: too big and it overshoots",
  optimizer: "optimizer",
  optimizers: { sgd: "plain (SGD)", momentum: "momentum", adam: "Adam" },
  go: "Step",
  undo: "Undo step",
  reset: "Back to the trained network",
  lossWord: "loss",
  lossExplain: "the loss is how wrong the network is about the label you chose (0 = certain and right)",
  probsTitle: "how sure it is, before → after",
  deltasTitle: "the error signal, flowing back from the answer",
  deltasExplain: "each square is a neuron (ringed the same way in the network diagram): red wants its sum lower, blue wants it higher; computed from the output back, layer by layer (backpropagation)",
  changesTitle: "how the weights changed",
  changesExplain: "red: the weight went up, blue: down, white: unchanged. Only weights from inputs that were on can change, so each layer's change is made of the rows of its lit inputs.",
  firstLayer: "the first layer's neurons that changed most (their incoming weights, as pictures)",
  layerMatrix: (layer, weights, nOut, nIn) => `${layer}: ${weights}, ${nOut} neurons × ${nIn} inputs`,
  largest: "largest change",
  mathsSummary: "the maths",
  maths: [
    "loss with softmax and cross-entropy: L = −log p(label)",
    "error signal of an output neuron: δ = p − (1 for the label, else 0)",
    "error signal one layer down: δ = (Wᵀ δ_above) · f′(z)",
    "change of the weight from input i to neuron j: Δw = −learning rate · δ_j · a_i",
  ],
  accuracyLoading: "measuring the test digits…",
  accuracy: (n, before, after, changed) => `On ${n} test digits (50 of each class): ${before} right before → ${after} after` +
    (changed ? `; ${changed} changed their answer` : "; none changed its answer"),
  stepped: (k) => `${k} step${k === 1 ? "" : "s"} taken: the whole explorer now shows the stepped network (the Test set tab and a neuron's top test digits still use the trained one).`,
  undone: (k) => (k ? `Undone: back to ${k} step${k === 1 ? "" : "s"}.` : "Undone: back to the trained network."),
  resetDone: "Back to the trained network.",
  noInk: "Draw a digit first (or pick one in the Test set tab): with no ink there is nothing to learn from.",
  needsPage: "One step needs the network in this page; it could not be loaded here.",
  flipped: (from, to) => `It changed its mind: ${from} → ${to}.`,
  stayed: (name) => `It still answers ${name}.`,
};

// The guided story: eight chapters, each a title, plain words and the maths, written from the
// facts story.js reads off the current network and drawing (f). `focus`: the explorer card
// the chapter talks about (story.js highlights it); `inspect`: the chapter opens its neuron in
// the explorer's neuron inspector.
const n2 = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(2));
const p1 = (v) => `${(100 * v).toFixed(1)}%`;
export const fmtNumber = n2;
export const fmtPercent = p1;

export const STORY = {
  tab: "Learn",
  next: "Next",
  prev: "Back",
  plain: "Show the maths",
  maths: "Show plain words",
  progress: (k, n) => `${k} / ${n}`,
  noHidden: "there is no hidden layer: the pixels feed the answers directly",
  needsDrawing: "Draw a digit on the pad (or load a test digit): every number in this story is worked out from your drawing.",
  chapters: [
    {
      title: "What the network sees", focus: ".strip-card",
      plain: (f) => `The network never sees your strokes: it sees ${f.pixels} numbers, one per pixel of a ${f.shape} picture, from 0 (black) to 1 (white). ${f.inked} of them have ink. Before that, a drawing is cropped, shrunk and centred, the way every training digit was.`,
      maths: (f) => `x = (x₁ … x_${f.pixels}), xᵢ = brightness/255 ∈ [0, 1]; ${f.inked} of the xᵢ are above 0, the largest is ${n2(f.brightest)}.`,
    },
    {
      title: "One neuron adds up evidence", focus: ".network-card", inspect: true,
      plain: (f) => `Take ${f.neuron}, the busiest neuron of the first layer. It multiplies each pixel by its own weight and adds them up: ${n2(f.sum)}, plus its bias ${n2(f.bias)}. That total decides how hard it fires: ${n2(f.value)}.`,
      maths: (f) => `z = Σᵢ wᵢ xᵢ + b = ${n2(f.sum)} + (${n2(f.bias)}) = ${n2(f.z)}; a = ${f.activation}(z) = ${n2(f.value)}. Only the ${f.active} inked pixels add anything.`,
    },
    {
      title: "Layers of neurons", focus: ".network-card",
      plain: (f) => `Neurons come in layers (${f.sizes}: the ${f.pixels} inputs first, the ${f.classes} answers last). Each layer reads the one before it. For your drawing, ${f.firing} — the bright squares in the diagram.`,
      maths: (f) => `a⁽ˡ⁾ = f(W⁽ˡ⁾ a⁽ˡ⁻¹⁾ + b⁽ˡ⁾) for each layer l; ${f.params} weights and biases in all.`,
    },
    {
      title: "Which pixels argue for which digit", focus: ".evidence-card",
      plain: (f) => `Every pixel pushes each answer up or down. For ${f.answer}, the red pixels push it up and the blue ones down: together they push it up by ${n2(f.push)} and down by ${n2(-f.pull)}.`,
      maths: (f) => `evidence of pixel i for class c: xᵢ · ∂z_c/∂xᵢ (gradient × input); for ${f.answer}: positive parts sum to ${n2(f.push)}, negative parts to ${n2(f.pull)}; its score z = ${n2(f.score)}.`,
    },
    {
      title: "The answer, and how sure it is", focus: ".predict-card",
      plain: (f) => `The network answers ${f.answer}, ${p1(f.p)} sure. Its second guess is ${f.second} at ${p1(f.p2)}. "Sure" comes from comparing the scores of all ${f.classes} answers.`,
      maths: (f) => `softmax: p_c = e^(z_c) / Σₖ e^(z_k); z(${f.answer}) = ${n2(f.z1)}, z(${f.second}) = ${n2(f.z2)}, so p(${f.answer}) = ${p1(f.p)}.`,
    },
    {
      title: "How it learned", focus: ".step-card",
      plain: (f) => `Nobody set those weights by hand. Training showed the network thousands of digits and, after each, nudged every weight a little so the right answer became more likely. The loss measures how wrong it is: ${n2(f.loss)} if your digit is a ${f.answer}, ${n2(f.lossSecond)} if it were a ${f.second}. Try it: teach it a label below and press Step.`,
      maths: (f) => `loss L = −log p(label): −log ${p1(f.p)} = ${n2(f.loss)}; one step moves each weight by Δw = −learning rate · ∂L/∂w, with ∂L/∂w found by backpropagation.`,
    },
    {
      title: "Where it fails", focus: ".draw-card",
      plain: (f) => `It is not always right: ${f.accuracy}. A small, careful change to a digit can flip its answer: try "make it say" under the pad, or the Test set tab's confusion matrix to see which digits it mixes up.`,
      maths: (f) => `accuracy = right answers / digits tried: ${f.accuracy}. A nudge (DeepFool) moves x across the nearest decision boundary.`,
    },
    {
      title: "What a neuron looks for", focus: ".network-card", inspect: true,
      plain: (f) => `Click any neuron in the diagram to see its weights as a picture: red where ink makes it fire, blue where ink silences it. The inspector below shows ${f.neuron}: it likes ink most at row ${f.likeRow}, column ${f.likeCol} and dislikes it most at row ${f.hateRow}, column ${f.hateCol} (rows and columns counted from 0, top left).`,
      maths: (f) => `the picture is ${f.neuron}'s ${f.pixels} incoming weights wᵢ, shown as a ${f.shape} image: largest ${n2(f.like)}, smallest ${n2(f.hate)}.`,
    },
  ],
};
