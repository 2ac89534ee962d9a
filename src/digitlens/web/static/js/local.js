// The drawing loop's answer computed in the page by engine.js, in the shape of the server's
// /api/predict answer (prediction, probabilities, input, activations, preprocessing,
// evidence, flow, arithmetic), so the views draw either without knowing which made it.

import { arithmetic, evidence, preprocess, strongestConnections } from "./engine.js";

// input: {gray: Uint8Array, width, height} (a drawing), {test: index, image: one byte per
// input, label}, {net_input: the input's values} (a kept nudge, not preprocessed) or null (an
// empty pad). Drawings are preprocessed to the network's own input shape ([h, w]); `n` values
// a blank input has. The values the network reads, whether they hold ink, and the
// preprocessing the strip shows.
function networkInput(input, mode, n, shape) {
  const blank = new Float32Array(n);
  if (input && input.net_input !== undefined) {  // a kept nudge: the network's input as it is
    const x = Float32Array.from(input.net_input), hasInk = x.some((v) => v > 0);
    return { x, hasInk, blank, pre: { source: "net input", mode, has_ink: hasInk } };
  }
  if (input && input.test !== undefined) {
    return { x: Float32Array.from(input.image, (v) => v / 255), hasInk: true, blank,
             pre: { source: "test", mode, has_ink: true, test_index: input.test, label: input.label } };
  }
  if (input) {
    const p = preprocess(input.gray, input.width, input.height, shape);
    return { x: mode === "raw" ? p.raw28 : p.centred, hasInk: p.has_ink, blank,
             pre: { source: "drawing", mode, has_ink: p.has_ink, width: p.width, height: p.height,
                    inverted: p.inverted, raw28: p.raw28, fitted: p.fitted, centred: p.centred,
                    bbox: p.bbox, centre_of_mass: p.centre_of_mass, offset: p.offset } };
  }
  return { x: blank, hasInk: false, blank,
           pre: { source: "drawing", mode, has_ink: false, raw28: blank, centred: blank } };
}

export function localAnswer(net, input, { mode = "centred", knockout = {}, neuron = null, run = "" } = {}) {
  const { x, hasInk, pre, blank: BLANK } = networkInput(input, mode, net.sizes[0], net.inputShape);
  if (!hasInk) return blankAnswer(net, pre, knockout, run, BLANK);
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
function blankAnswer(net, pre, knockout, run, BLANK) {
  const zeros = (n) => new Float32Array(n);
  const C = net.sizes.at(-1), P = net.sizes[0], contributions = zeros(C * P);
  contributions.shape = [C, P];
  return { run, has_ink: false, prediction: null, probabilities: zeros(C), input: BLANK, knockout,
           activations: net.sizes.slice(1).map(zeros), preprocessing: pre,
           evidence: { method: "", note: "", contributions, scores: zeros(C) }, flow: [] };
}

// A convolutional network's answer (convnet.js): the drawing preprocessed as for an MLP, the
// trace with every feature map, its prediction; `knockout` {layer: [channels]} switched off.
export function convAnswer(net, input, { mode = "centred", knockout = {}, run = "" } = {}) {
  const { x, hasInk, pre } = networkInput(input, mode, net.nInputs, net.inputShape);
  const trace = net.trace(x, { knockout });
  return { run, has_ink: hasInk, prediction: hasInk ? trace.prediction : null,
           probabilities: hasInk ? trace.probabilities : new Float32Array(net.classNames.length),
           input: trace.input, knockout, trace, preprocessing: pre };
}
