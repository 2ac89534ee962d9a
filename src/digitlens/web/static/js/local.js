// The drawing loop's answer computed in the page by engine.js, in the shape of the server's
// /api/predict answer (prediction, probabilities, input, activations, preprocessing,
// evidence, flow, arithmetic), so the views draw either without knowing which made it.

import { arithmetic, evidence, preprocess, strongestConnections } from "./engine.js";

const BLANK = new Float32Array(784);

// input: {gray: Uint8Array, width, height} (a drawing), {test: index, image: 784 bytes, label}
// or null (an empty pad).
export function localAnswer(net, input, { mode = "centred", knockout = {}, neuron = null, run = "" } = {}) {
  let x = BLANK, pre, hasInk;
  if (input && input.test !== undefined) {
    x = Float32Array.from(input.image, (v) => v / 255);
    hasInk = true;
    pre = { source: "test", mode, has_ink: true, test_index: input.test, label: input.label };
  } else if (input) {
    const p = preprocess(input.gray, input.width, input.height);
    x = mode === "raw" ? p.raw28 : p.centred;
    hasInk = p.has_ink;
    pre = { source: "drawing", mode, has_ink: p.has_ink, width: p.width, height: p.height,
            inverted: p.inverted, raw28: p.raw28, fitted: p.fitted, centred: p.centred,
            bbox: p.bbox, centre_of_mass: p.centre_of_mass, offset: p.offset };
  } else {
    hasInk = false;
    pre = { source: "drawing", mode, has_ink: false, raw28: BLANK, centred: BLANK };
  }
  if (!hasInk) return blankAnswer(net, pre, knockout, run);
  const t = net.trace(x, { knockout });
  const ev = evidence(net, t);
  const out = {
    run, has_ink: hasInk, prediction: hasInk ? t.prediction : null,
    probabilities: t.probabilities, input: t.input, knockout, activations: t.activations,
    preprocessing: pre, evidence: { method: ev.method, note: ev.note, contributions: ev.contributions,
                                    scores: ev.scores },
    flow: strongestConnections(net, t, 40),
  };
  if (neuron) out.arithmetic = arithmetic(net, t, neuron.layer, neuron.index);
  return out;
}

// Nothing drawn: no prediction, and nothing lit up (a blank input still gives the biases'
// answer, which reads as a guess; the page shows "draw a digit" instead).
function blankAnswer(net, pre, knockout, run) {
  const zeros = (n) => new Float32Array(n);
  const C = net.sizes.at(-1), contributions = zeros(C * 784);
  contributions.shape = [C, 784];
  return { run, has_ink: false, prediction: null, probabilities: zeros(C), input: BLANK, knockout,
           activations: net.sizes.slice(1).map(zeros), preprocessing: pre,
           evidence: { method: "", note: "", contributions, scores: zeros(C) }, flow: [] };
}
