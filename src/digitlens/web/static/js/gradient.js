// One example's gradient and one illustrative optimizer step, for a learner to watch what a
// step of training does. The Python engine (digitlens/nn/backprop.py backward, nn/functions.py
// cost and output_delta, nn/optim.py and nn/kernels.py updates) stays the reference;
// tests/web/test_gradient.py compares the two number for number and against finite
// differences. Training a model stays in Python: this is one step, on one example.
//
// Sums run in float64; gradients and parameters are stored as float32, and the updates round
// each operation to float32 in the order digitlens.nn.kernels does, so a step from the same
// gradient gives the same float32 weights as Python's optimizer.

import { EngineError } from "./engine-error.js";
import { DERIVATIVES } from "./functions.js";

export const COSTS = ["cross_entropy", "quadratic"];
export const OPTIMIZERS = ["sgd", "momentum", "adam"];
export const LR_MAX = 100;  // a learning rate beyond this only ever shows overflow
const EPS = 1e-12, MU = 0.9, BETA1 = 0.9, BETA2 = 0.999, ADAM_EPS = 1e-8;
const f32 = Math.fround;

function checkLabel(net, label) {
  const C = net.sizes.at(-1);
  if (!Number.isInteger(label) || label < 0 || label >= C) {
    throw new EngineError(`the label to teach must be a class from 0 to ${C - 1}, got ${JSON.stringify(label)}`);
  }
}

function checkCost(net) {
  if (!COSTS.includes(net.cost)) {
    throw new EngineError(`this page cannot take a step: it does not know the network's cost ${JSON.stringify(net.cost)} (it knows ${COSTS.join(", ")})`);
  }
}

/** The training cost of one output `a` for class `y`, without L2 (nn/functions.py cost). */
export function loss(cost, output, a, y) {
  let s = 0;
  if (cost === "quadratic") {
    for (let j = 0; j < a.length; j++) { const d = a[j] - (j === y ? 1 : 0); s += d * d; }
    return 0.5 * s;
  }
  if (output === "softmax") return -Math.log(a[y] + EPS);
  for (let j = 0; j < a.length; j++) {  // binary cross-entropy summed over the outputs
    const p = Math.min(Math.max(a[j], EPS), 1 - EPS);
    s += j === y ? Math.log(p) : Math.log(1 - p);
  }
  return -s;
}

// The output recomputed in float64 from its z: a confident answer's a − 1 (the error signal)
// is a difference of nearly equal numbers, which float32 outputs would keep to 3 digits only.
function outputs64(activation, z) {
  const a = new Float64Array(z.length);
  if (activation === "softmax") {
    let m = -Infinity, s = 0;
    for (const v of z) if (v > m) m = v;
    for (let j = 0; j < z.length; j++) { a[j] = Math.exp(z[j] - m); s += a[j]; }
    for (let j = 0; j < z.length; j++) a[j] /= s;
  } else for (let j = 0; j < z.length; j++) a[j] = 1 / (1 + Math.exp(-z[j]));
  return a;
}

/** dCost/dz of the output layer (nn/functions.py output_delta for one row), float64. */
function outputDelta(cost, output, a, y) {
  const n = a.length, d = new Float64Array(n);
  for (let j = 0; j < n; j++) d[j] = a[j] - (j === y ? 1 : 0);  // a - onehot(y)
  if (cost === "cross_entropy") return d;
  if (output === "sigmoid") {
    for (let j = 0; j < n; j++) d[j] *= a[j] * (1 - a[j]);
    return d;
  }
  let s = 0;  // quadratic + softmax: Jᵀ(a - t), J = diag(a) - a aᵀ
  for (let j = 0; j < n; j++) s += d[j] * a[j];
  for (let j = 0; j < n; j++) d[j] = a[j] * (d[j] - s);
  return d;
}

// The backward pass: every layer's delta (dCost/dz, float64), from the output down. A layer's
// weight gradient is the outer product of its input and its delta (∂C/∂w_ji = δ_j · a_i), so
// a step never stores it: the update reads a_i and δ_j.
function backprop(net, pixels, label) {
  checkCost(net);
  checkLabel(net, label);
  const trace = net.trace(pixels);
  const L = net.nLayers, out = outputs64(net.activations[L - 1], trace.zs[L - 1]);
  const deltas = new Array(L);
  let delta = outputDelta(net.cost, net.activations[L - 1], out, label);
  for (let l = L - 1; l >= 0; l--) {
    deltas[l] = delta;
    if (l === 0) break;
    // the layer below's delta: (W δ)_i · f'(z_i), f' written from a_i = f(z_i)
    const nIn = net.sizes[l], nOut = net.sizes[l + 1], aIn = net.valuesBefore(trace, l);
    const w = net.weights[l], d = DERIVATIVES[net.activations[l - 1]], below = new Float64Array(nIn);
    for (let i = 0; i < nIn; i++) {
      const g = d(aIn[i]);
      if (g === 0) continue;
      const row = i * nOut;
      let s = 0;
      for (let j = 0; j < nOut; j++) s += w[row + j] * delta[j];
      below[i] = s * g;
    }
    delta = below;
  }
  return { loss: loss(net.cost, net.activations[L - 1], out, label), deltas, trace };
}

/**
 * The cost's gradient for one example with `label` as its class: {loss, weights, biases,
 * deltas, trace}. weights[l] is Float32Array (neurons × inputs, row-major: the JSON export's
 * layers[l].weights), biases[l] (neurons); deltas[l] is dCost/dz of layer l's neurons (each
 * neuron's error signal), trace the forward pass it came from.
 */
export function gradients(net, pixels, label) {
  const { loss: value, deltas, trace } = backprop(net, pixels, label);
  const weights = deltas.map((delta, l) => {
    const nIn = net.sizes[l], nOut = net.sizes[l + 1], aIn = net.valuesBefore(trace, l);
    const gw = new Float32Array(nOut * nIn);  // (n_out, n_in): row j is neuron j's inputs
    for (let j = 0; j < nOut; j++) {
      const dj = delta[j], row = j * nIn;
      if (dj !== 0) for (let i = 0; i < nIn; i++) if (aIn[i] !== 0) gw[row + i] = dj * aIn[i];
    }
    return gw;
  });
  const biases = deltas.map((d) => Float32Array.from(d));
  return { loss: value, weights, biases, deltas: deltas.map((d) => Float32Array.from(d)), trace };
}

function checkOptions(lr, optimizer) {
  if (!OPTIMIZERS.includes(optimizer)) {
    throw new EngineError(`the optimizer must be one of ${OPTIMIZERS.join(", ")}, got ${JSON.stringify(optimizer)}`);
  }
  if (typeof lr !== "number" || !Number.isFinite(lr) || lr <= 0 || lr > LR_MAX) {
    throw new EngineError(`the learning rate must be a number above 0 and at most ${LR_MAX}, got ${String(lr)}`);
  }
}

// Optimizer state: flat per-layer arrays laid out like net.weights (n_in × n_out) then
// net.biases, as nn/optim.py keeps one flat vector.
function freshState(net, optimizer) {
  const zeros = () => [...net.weights, ...net.biases].map((p) => new Float32Array(p.length));
  return { optimizer, t: 0, m: optimizer === "sgd" ? null : zeros(), v: optimizer === "adam" ? zeros() : null };
}

function copyState(s) {
  const copy = (list) => list && list.map((a) => Float32Array.from(a));
  return { optimizer: s.optimizer, t: s.t, m: copy(s.m), v: copy(s.v) };
}

// The update of out[at .. at + g.length) from gradient g (float32), p the old values, k the
// parameter array's place in the optimizer state; each operation rounded to float32 in the
// order nn/kernels.py takes. `c` holds the step's constants. Returns the values' sum (finite
// exactly when every value is).
function update(out, p, g, at, k, s, c) {
  let sum = 0;
  const n = g.length;
  if (s.optimizer === "sgd") {  // p -= g·lr
    for (let j = 0; j < n; j++) sum += out[at + j] = f32(p[at + j] - f32(g[j] * c.rate));
  } else if (s.optimizer === "momentum") {  // v = μ·v - g·lr; p += v
    const v = s.m[k];
    for (let j = 0; j < n; j++) {
      const i = at + j;
      v[i] = f32(f32(v[i] * c.mu) - f32(g[j] * c.rate));
      sum += out[i] = f32(p[i] + v[i]);
    }
  } else {  // Adam: m = β1·m + g; v = β2·v + g²; p -= c1·m/(√v + ε')  (nn/optim.py Adam)
    const m = s.m[k], v = s.v[k];
    for (let j = 0; j < n; j++) {
      const i = at + j, gj = g[j];
      m[i] = f32(f32(m[i] * c.b1) + gj);
      v[i] = f32(f32(v[i] * c.b2) + f32(gj * gj));
      sum += out[i] = f32(p[i] - f32(f32(m[i] / f32(f32(Math.sqrt(v[i])) + c.eps)) * c.c1));
    }
  }
  return sum;
}

// SGD and momentum round lr to float32; Adam folds it, with both bias corrections and ε, into
// two float32 constants computed in float64, as nn/optim.py does.
function constants(lr, t) {
  const k = 1 / Math.sqrt((1 - BETA2) / (1 - BETA2 ** t));
  return { rate: f32(lr), mu: f32(MU), b1: f32(BETA1), b2: f32(BETA2), eps: f32(ADAM_EPS * k),
           c1: f32(lr * (1 - BETA1) / (1 - BETA1 ** t) * k) };
}

/**
 * One step of `optimizer` ("sgd", "momentum", "adam") with learning rate `lr` on one example:
 * {network (new; `net` is untouched), loss_before, loss_after, deltas (each layer's error
 * signal), before, after (the two forward passes), state}. `state`: the optimizer state a previous step returned
 * (momentum's velocity, Adam's moments), so stepping again continues; fresh when omitted or
 * of another optimizer. Bad input is an EngineError with a sentence, never NaN weights.
 */
export function step(net, pixels, label, { lr = 0.01, optimizer = "sgd", state = null } = {}) {
  checkOptions(lr, optimizer);
  const b = backprop(net, pixels, label);
  if (!b.trace.input.some((v) => v > 0)) throw new EngineError("the drawing is blank (no ink): there is nothing to learn from");
  const s = state && state.optimizer === optimizer ? copyState(state) : freshState(net, optimizer);
  s.t += 1;
  const L = net.nLayers, c = constants(lr, s.t), weights = [], biases = [];
  let sum = 0;
  for (let l = 0; l < L; l++) {
    const nIn = net.sizes[l], nOut = net.sizes[l + 1], aIn = net.valuesBefore(b.trace, l);
    const p = net.weights[l], out = p.slice(), delta = b.deltas[l], g = new Float32Array(nOut);
    for (let i = 0; i < nIn; i++) {  // row i of (n_in × n_out): ∂C/∂w_ij = a_i · δ_j
      const ai = aIn[i];
      if (ai === 0 && s.optimizer === "sgd") continue;  // a zero gradient row: SGD leaves it
      for (let j = 0; j < nOut; j++) g[j] = ai === 0 ? 0 : f32(ai * delta[j]);
      sum += update(out, p, g, i * nOut, l, s, c);
    }
    weights.push(out);
  }
  for (let l = 0; l < L; l++) {
    const out = new Float32Array(net.biases[l].length);
    sum += update(out, net.biases[l], Float32Array.from(b.deltas[l]), 0, L + l, s, c);
    biases.push(out);
  }
  if (!Number.isFinite(sum)) throw new EngineError("this learning rate makes a weight overflow: try a smaller one");
  const network = net.withParameters(weights, biases);
  const after = network.trace(b.trace.input);
  const lossAfter = loss(net.cost, net.activations[L - 1], outputs64(net.activations[L - 1], after.zs[L - 1]), label);
  if (!Number.isFinite(lossAfter) || !after.probabilities.every(Number.isFinite)) {
    throw new EngineError("this learning rate pushes the network's outputs past what it can compute: try a smaller one");
  }
  return { network, loss_before: b.loss, loss_after: lossAfter, deltas: b.deltas, before: b.trace, after, state: s };
}
