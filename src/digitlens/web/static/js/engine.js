// The page's one engine: MNIST preprocessing of a drawing, the forward pass, gradient × input
// evidence, the diagram's strongest connections and one neuron's arithmetic. It mirrors
// digitlens's Python engine (data/preprocess.py, nn/mlp.py, analysis/attribution.py,
// analysis/flow.py, analysis/inspector.py), which stays the reference: tests/web/test_engine.py
// compares the two number for number. No DOM, no dependencies: it runs in a browser and in
// Node 20. It never trains; it can take one illustrative gradient step on one example
// (gradient.js: net.gradients, net.step), returning a new network. New analyses add a
// function here (taking a Network and a trace); the circuit by mean-ablation is circuit.js's, the gap over
// an atlas's features featuregap.js's.
//
// Weights are kept as Float32Array (n_in × n_out, row-major: row i holds input i's weights),
// the layout in which both the forward pass (a row per non-zero input) and the backward pass
// (a dot product per input) read memory in order. Sums run in float64 and are stored as
// float32, as the Python engine stores them. Preprocessing lives in preprocess.js and is
// exported from here too: this module is the engine's one entry point.

import { EngineError } from "./engine-error.js";
import { ACTIVATIONS, DERIVATIVES } from "./functions.js";
import { LR_MAX, OPTIMIZERS, gradients as gradientsOf, step as stepOf } from "./gradient.js";
import { BOX, CENTRE, FIELD, INK_THRESHOLD, MAX_SIDE, boxFor, inputBoxOnDrawing, preprocess, resize } from "./preprocess.js";
import { circuit } from "./circuit.js";
import { featureGap } from "./featuregap.js";
import { CNN_FORMAT, ConvNet, loadConvNet } from "./convnet.js";

export { BOX, CENTRE, ConvNet, EngineError, circuit, featureGap, FIELD, INK_THRESHOLD, LR_MAX, MAX_SIDE, OPTIMIZERS, boxFor, inputBoxOnDrawing, preprocess, resize };
export const HIDDEN = ["sigmoid", "relu", "tanh", "identity"];
export const OUTPUTS = ["softmax", "sigmoid"];
const EPS = 1e-12;


const f32 = Math.fround;

function withShape(array, shape) { array.shape = shape; return array; }

// ---------------------------------------------------------------------------- the network

function decodeFloat32(text, count, where) {
  let bytes;
  try {
    const bin = atob(text);
    bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  } catch {
    throw new EngineError(`${where} is not valid base64`);
  }
  if (bytes.length !== 4 * count) {
    throw new EngineError(`${where} holds ${bytes.length / 4} numbers, expected ${count}`);
  }
  return new Float32Array(bytes.buffer);
}

function checkFinite(a, where) {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) throw new EngineError(`${where} holds a value that is not a finite float32 number`);
  }
}

// A layer's weights: nested lists [n_out][n_in] (the JSON export) or, in the single-file
// explorer, {"encoding": "float32-base64", "data": ...} of the same n_out × n_in values.
function readWeights(value, nIn, nOut, where) {
  const w = new Float32Array(nIn * nOut);  // (n_in, n_out)
  if (value && value.encoding === "float32-base64") {
    const flat = decodeFloat32(value.data, nIn * nOut, where);
    for (let j = 0; j < nOut; j++) for (let i = 0; i < nIn; i++) w[i * nOut + j] = flat[j * nIn + i];
  } else {
    if (!Array.isArray(value) || value.length !== nOut) {
      throw new EngineError(`${where} must be ${nOut} rows of ${nIn} numbers`);
    }
    for (let j = 0; j < nOut; j++) {
      const row = value[j];
      if (!Array.isArray(row) || row.length !== nIn) {
        throw new EngineError(`${where}[${j}] must be a list of ${nIn} numbers`);
      }
      for (let i = 0; i < nIn; i++) {
        if (typeof row[i] !== "number") throw new EngineError(`${where}[${j}][${i}] is not a number`);
        w[i * nOut + j] = row[i];
      }
    }
  }
  checkFinite(w, where);
  return w;
}

function readBiases(value, n, where) {
  let b;
  if (value && value.encoding === "float32-base64") b = decodeFloat32(value.data, n, where);
  else {
    if (!Array.isArray(value) || value.length !== n) throw new EngineError(`${where} must be a list of ${n} numbers`);
    if (value.some((x) => typeof x !== "number")) throw new EngineError(`${where} holds a non-number`);
    b = Float32Array.from(value);
  }
  checkFinite(b, where);
  return b;
}

/**
 * A network from the parsed `digitlens-network` v1 document (`digitlens export --format
 * json`), or a ConvNet from the unpacked `digitlens-cnn-network` one (api/runs/NAME/network). Anything the page cannot run (another schema, other input sizes, wrong shapes,
 * non-finite numbers) is an EngineError naming the field.
 */
const LOADED = new WeakMap();  // the same parsed document is decoded and checked once

export function loadNetwork(doc) {
  if (doc && typeof doc === "object" && LOADED.has(doc)) return LOADED.get(doc);
  const net = readNetwork(doc);
  LOADED.set(doc, net);
  return net;
}

function readNetwork(doc) {
  if (doc && typeof doc === "object" && doc.format === CNN_FORMAT) return loadConvNet(doc);  // convnet.js
  if (!doc || typeof doc !== "object" || doc.format !== "digitlens-network") {
    throw new EngineError('not a digitlens network (no "format": "digitlens-network")');
  }
  if (doc.version !== 1) throw new EngineError(`unsupported schema version ${JSON.stringify(doc.version)} (this page reads version 1)`);
  const sizes = doc.sizes;
  if (!Array.isArray(sizes) || sizes.length < 2 || !sizes.every((s) => Number.isInteger(s) && s > 0)) {
    throw new EngineError("sizes must be a list of at least two positive integers");
  }
  const shape = inputShape(doc.input?.shape, sizes[0]);
  if (sizes.reduce((n, s, i) => (i ? n + sizes[i - 1] * s : n), 0) > 50_000_000) {
    throw new EngineError("this network is too large to run in the page (over 50 million weights)");
  }
  if (!Array.isArray(doc.layers) || doc.layers.length !== sizes.length - 1) {
    throw new EngineError(`layers must list ${sizes.length - 1} layers for sizes ${sizes.join("-")}`);
  }
  const weights = [], biases = [], activations = [];
  doc.layers.forEach((layer, l) => {
    const where = `layers[${l}]`, last = l === sizes.length - 2;
    if (!layer || typeof layer !== "object") throw new EngineError(`${where} must be an object`);
    const act = layer.activation;
    if (!(last ? OUTPUTS : HIDDEN).includes(act)) {
      throw new EngineError(`${where}.activation must be one of ${(last ? OUTPUTS : HIDDEN).join(", ")}, got ${JSON.stringify(act)}`);
    }
    activations.push(act);
    weights.push(readWeights(layer.weights, sizes[l], sizes[l + 1], `${where}.weights`));
    biases.push(readBiases(layer.biases, sizes[l + 1], `${where}.biases`));
  });
  const classes = doc.output?.classes;
  const names = Array.isArray(classes) && classes.length === sizes.at(-1) ? classes.map(String)
    : Array.from({ length: sizes.at(-1) }, (_, i) => String(i));
  const net = new Network(sizes, activations, weights, biases, names, doc.provenance || {}, shape);
  net.cost = typeof doc.cost === "string" ? doc.cost : null;  // the training cost, for gradients
  return net;
}

// The image the network reads: input.shape [h, w] when the document gives it (it must hold
// exactly sizes[0] pixels), else as nn/mlp.default_input_shape guesses: 28×28 for 784, a
// square for a square number, else one row.
function inputShape(given, n) {
  if (given !== undefined) {
    if (!Array.isArray(given) || given.length !== 2 || !given.every((s) => Number.isInteger(s) && s > 0)
        || given[0] * given[1] !== n) {
      throw new EngineError(`input.shape must be [height, width] of the network's ${n} inputs, got ${JSON.stringify(given)?.slice(0, 40)}`);
    }
    return [given[0], given[1]];
  }
  const side = Math.round(Math.sqrt(n));
  return side * side === n ? [side, side] : [1, n];
}

export class Network {
  constructor(sizes, activations, weights, biases, classNames, provenance = {}, inputShape = null) {
    this.sizes = sizes; this.activations = activations;
    this.inputShape = inputShape || [1, sizes[0]];
    this.weights = weights; this.biases = biases;
    this.classNames = classNames; this.provenance = provenance;
    this.peaks = null;  // rowPeaks(l), per weight layer, once asked
    this.cost = null;  // the training cost's name ("cross_entropy", "quadratic"), if known
  }

  get nLayers() { return this.sizes.length - 1; }

  /** The same network with other parameters (same layouts as this.weights, this.biases). */
  withParameters(weights, biases) {
    const net = new Network(this.sizes, this.activations, weights, biases, this.classNames,
                            this.provenance, this.inputShape);
    net.cost = this.cost;
    return net;
  }

  /** The cost's gradient for one example, weights as the JSON export lays them out (gradient.js). */
  gradients(pixels, label) { return gradientsOf(this, pixels, label); }

  /** One optimizer step on one example: a new network, this one untouched (gradient.js). */
  step(pixels, label, options = {}) { return stepOf(this, pixels, label, options); }

  /** {layer: [neurons]} (keys as strings or numbers) -> Map layer -> Uint8Array(1 = off). */
  masks(knockout) {
    const out = new Map();
    for (const [key, list] of Object.entries(knockout || {})) {
      const layer = Number(key);
      if (this.nLayers === 1 && list?.length) throw new EngineError("this network has no hidden layer to knock out");
      if (!Number.isInteger(layer) || layer < 0 || layer >= this.nLayers - 1) {
        throw new EngineError(`knockout layer ${key} is not a hidden layer (0..${this.nLayers - 2})`);
      }
      if (!Array.isArray(list) || !list.length) continue;
      const n = this.sizes[layer + 1], off = new Uint8Array(n);
      for (const i of list) {
        if (!Number.isInteger(i) || i < 0 || i >= n) throw new EngineError(`knockout neuron ${i} is not in 0..${n - 1}`);
        off[i] = 1;
      }
      out.set(layer, off);
    }
    return out;
  }

  /**
   * The forward pass of one input (MLP.trace): `pixels` sizes[0] values in 0..1. Returns
   * {input, zs, activations (per layer, output last), probabilities, prediction, knockout}.
   */
  trace(pixels, { knockout = undefined } = {}) {
    if (!pixels || pixels.length !== this.sizes[0]) {
      throw new EngineError(`the input must be ${this.sizes[0]} numbers, got ${pixels?.length}`);
    }
    const masks = this.masks(knockout);
    const input = Float32Array.from(pixels);
    for (let i = 0; i < input.length; i++) {
      if (!(input[i] >= 0 && input[i] <= 1)) throw new EngineError("the input's values must lie in 0..1");
    }
    let a = input;
    const zs = [], acts = [];
    const acc = new Float64Array(Math.max(...this.sizes));
    for (let l = 0; l < this.nLayers; l++) {
      const w = this.weights[l], b = this.biases[l], nIn = this.sizes[l], nOut = this.sizes[l + 1];
      for (let j = 0; j < nOut; j++) acc[j] = 0;
      for (let i = 0; i < nIn; i++) {  // (n_in) @ (n_in, n_out): a row per non-zero input
        const ai = a[i];
        if (ai === 0) continue;
        const row = i * nOut;
        for (let j = 0; j < nOut; j++) acc[j] += ai * w[row + j];
      }
      const z = new Float32Array(nOut), out = new Float32Array(nOut), act = this.activations[l];
      for (let j = 0; j < nOut; j++) z[j] = acc[j] + b[j];
      if (act === "softmax") {
        let m = -Infinity, s = 0;
        for (let j = 0; j < nOut; j++) if (z[j] > m) m = z[j];
        for (let j = 0; j < nOut; j++) { acc[j] = Math.exp(z[j] - m); s += acc[j]; }
        for (let j = 0; j < nOut; j++) out[j] = acc[j] / s;
      } else {
        const f = ACTIVATIONS[act];
        for (let j = 0; j < nOut; j++) out[j] = f(z[j]);
      }
      const off = masks.get(l);
      if (off) for (let j = 0; j < nOut; j++) if (off[j]) out[j] = 0;
      zs.push(z); acts.push(out); a = out;
    }
    const output = acts.at(-1);
    let probabilities = output, prediction = 0;
    if (this.activations.at(-1) !== "softmax") {
      let s = 0;
      for (const v of output) s += v;
      probabilities = output.map((v) => v / Math.max(s, EPS));
    }
    for (let j = 1; j < output.length; j++) if (output[j] > output[prediction]) prediction = j;
    return { input, zs, activations: acts, probabilities, prediction, masks };
  }

  /** max_j |W[i, j]| per input row i of weight layer `l` (kept: the weights never change). */
  rowPeaks(l) {
    this.peaks ||= [];
    if (!this.peaks[l]) {
      const w = this.weights[l], nIn = this.sizes[l], nOut = this.sizes[l + 1];
      const p = new Float32Array(nIn);
      for (let i = 0; i < nIn; i++) {
        let m = 0;
        for (let j = 0; j < nOut; j++) { const v = Math.abs(w[i * nOut + j]); if (v > m) m = v; }
        p[i] = m;
      }
      this.peaks[l] = p;
    }
    return this.peaks[l];
  }

  /** Values of layer `l` counted over weight layers: 0 = the input, 1 = first hidden... */
  valuesBefore(trace, layer) { return layer === 0 ? trace.input : trace.activations[layer - 1]; }
}

// ---------------------------------------------------------------------------- evidence

/**
 * Per-class evidence for one traced input (analysis.attribution.evidence, ink only): for a
 * single-layer net input × weights, otherwise gradient of each class's score × input.
 * contributions: Float32Array (classes × inputs) with .shape; scores: the output z.
 */
export function evidence(net, trace) {
  const nIn = net.sizes[0], C = net.sizes.at(-1), x = trace.input;
  const ink = [];
  for (let i = 0; i < nIn; i++) if (x[i] !== 0) ink.push(i);
  const contributions = withShape(new Float32Array(C * nIn), [C, nIn]);
  const scores = trace.zs.at(-1);
  if (net.nLayers === 1) {
    const w = net.weights[0];
    for (const i of ink) for (let c = 0; c < C; c++) contributions[c * nIn + i] = x[i] * w[i * C + c];
    return { method: "weights", note: "input × weights: exact contributions", contributions, scores };
  }
  // delta (n, classes): d score_c / d value_i, backpropagated layer by layer. Only the rows
  // that can be non-zero are computed (active, not knocked-out neurons; inked pixels), and
  // each weight is read once for all classes.
  let delta = new Float64Array(C * C), live = Int32Array.from({ length: C }, (_, j) => j);
  for (let c = 0; c < C; c++) delta[c * C + c] = 1;
  const acc = new Float64Array(C);
  for (let l = net.nLayers - 1; l >= 0; l--) {
    const w = net.weights[l], nOut = net.sizes[l + 1], nPrev = net.sizes[l];
    const next = new Float64Array(nPrev * C), rows = [];
    const a = l ? trace.activations[l - 1] : null, d = l ? DERIVATIVES[net.activations[l - 1]] : null;
    const off = l ? trace.masks.get(l - 1) : null;
    for (let i = 0; i < nPrev; i++) {
      let g = 1;
      if (l === 0) { if (x[i] === 0) continue; } else {
        if (off && off[i]) continue;
        g = d(a[i]);
        if (g === 0) continue;
      }
      const row = i * nOut;
      if (C === 10) {  // ten classes (digits): sums kept in registers, about twice as fast
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0, s8 = 0, s9 = 0;
        for (let k = 0; k < live.length; k++) {
          const j = live[k], wij = w[row + j], b = j * 10;
          s0 += delta[b] * wij; s1 += delta[b + 1] * wij; s2 += delta[b + 2] * wij;
          s3 += delta[b + 3] * wij; s4 += delta[b + 4] * wij; s5 += delta[b + 5] * wij;
          s6 += delta[b + 6] * wij; s7 += delta[b + 7] * wij; s8 += delta[b + 8] * wij;
          s9 += delta[b + 9] * wij;
        }
        const o = i * 10;
        next[o] = s0 * g; next[o + 1] = s1 * g; next[o + 2] = s2 * g; next[o + 3] = s3 * g;
        next[o + 4] = s4 * g; next[o + 5] = s5 * g; next[o + 6] = s6 * g; next[o + 7] = s7 * g;
        next[o + 8] = s8 * g; next[o + 9] = s9 * g;
      } else {
        acc.fill(0);
        for (let k = 0; k < live.length; k++) {
          const j = live[k], wij = w[row + j], base = j * C;
          for (let c = 0; c < C; c++) acc[c] += delta[base + c] * wij;
        }
        for (let c = 0; c < C; c++) next[i * C + c] = acc[c] * g;
      }
      rows.push(i);
    }
    delta = next; live = Int32Array.from(rows);
  }
  for (const i of ink) for (let c = 0; c < C; c++) contributions[c * nIn + i] = x[i] * delta[i * C + c];
  return { method: "gradient", note: "gradient × input: each pixel's first-order effect on the class score",
           contributions, scores };
}

// ---------------------------------------------------------------------------- diagram lines

/**
 * Per weight layer up to `k` [source, target, a_source·w] of largest magnitude, strongest
 * first, ties in index order (analysis.flow.strongest_connections); knocked-out targets
 * carry nothing.
 */
export function strongestConnections(net, trace, k = 40) {
  const out = [];
  for (let l = 0; l < net.nLayers; l++) {
    const a = net.valuesBefore(trace, l), w = net.weights[l], nOut = net.sizes[l + 1];
    const off = trace.masks.get(l), peaks = net.rowPeaks(l);
    const best = [];  // [magnitude, i, j, term], sorted strongest first
    let floor = 0;
    for (let i = 0; i < a.length; i++) {
      const ai = a[i];
      if (ai === 0) continue;
      // |a_i|·max_j|w_ij| bounds the row (rounding keeps order): most rows never reach the floor
      if (best.length === k && f32(Math.abs(ai) * peaks[i]) < floor) continue;
      const row = i * nOut;
      for (let j = 0; j < nOut; j++) {
        const t = f32(ai * w[row + j]), m = Math.abs(t);
        if (m === 0 || (best.length === k && m <= floor) || (off && off[j])) continue;
        let p = best.length;
        while (p > 0 && best[p - 1][0] < m) p--;
        best.splice(p, 0, [m, i, j, t]);
        if (best.length > k) best.pop();
        if (best.length === k) floor = best[k - 1][0];
      }
    }
    out.push(best.map(([, i, j, t]) => [i, j, t]));
  }
  return out;
}

// ---------------------------------------------------------------------------- one neuron

const ACT_DOUBLE = { ...ACTIVATIONS };

/**
 * One neuron's value worked out term by term (analysis.inspector.arithmetic(...).to_dict()):
 * layer counted over weight layers (0 = first hidden), index the neuron.
 */
export function arithmetic(net, trace, layer, index, top = 8) {
  if (!Number.isInteger(layer) || layer < 0 || layer >= net.nLayers) throw new EngineError(`layer must be in 0..${net.nLayers - 1}`);
  const nOut = net.sizes[layer + 1];
  if (!Number.isInteger(index) || index < 0 || index >= nOut) throw new EngineError(`neuron must be in 0..${nOut - 1}`);
  const inputs = net.valuesBefore(trace, layer), w = net.weights[layer], n = inputs.length;
  const terms = new Float64Array(n);
  let sum = 0, pos = 0, neg = 0, active = 0;
  for (let i = 0; i < n; i++) {
    const t = inputs[i] * w[i * nOut + index];
    terms[i] = t; sum += t;
    if (t > 0) pos += t; else if (t < 0) neg += t;
    if (inputs[i] !== 0) active++;
  }
  const bias = net.biases[layer][index], z = sum + bias, act = net.activations[layer];
  let value;
  if (act === "softmax") {
    const zs = trace.zs[layer];
    let m = -Infinity, s = 0;
    for (const v of zs) if (v > m) m = v;
    for (const v of zs) s += Math.exp(v - m);
    value = Math.exp(z - m) / s;
  } else value = ACT_DOUBLE[act](z);
  const off = trace.masks.get(layer)?.[index] === 1;
  // np.argsort(-terms, stable)[:top] of the positive terms, and its reverse's of the negative
  // ones (most negative first; equal values: higher index first), by one scan
  const pos8 = [], neg8 = [];
  const insert = (list, i, before) => {
    if (list.length === top && !before(i, list[top - 1])) return;
    let p = list.length;
    while (p > 0 && before(i, list[p - 1])) p--;
    list.splice(p, 0, i);
    if (list.length > top) list.pop();
  };
  for (let i = 0; i < n; i++) {
    if (terms[i] > 0) insert(pos8, i, (u, v) => terms[u] > terms[v]);
    else if (terms[i] < 0) insert(neg8, i, (u, v) => terms[u] < terms[v] || (terms[u] === terms[v] && u > v));
  }
  const row = (i) => ({ index: i, input: inputs[i], weight: w[i * nOut + index], product: terms[i] });
  return {
    n_inputs: n, n_active: active, sum, positive_sum: pos, negative_sum: neg, bias, z,
    activation: act, value: off ? 0 : value, knocked_out: off,
    top_positive: pos8.map(row),
    top_negative: neg8.map(row),
  };
}

/** (inputs × n) weights composed through the layers up to `layer` (nn.compose). */
export function composedWeights(net, layer) {
  const P = net.sizes[0];
  let acc = Float64Array.from(net.weights[0]), n = net.sizes[1];
  for (let l = 1; l <= layer; l++) {
    const w = net.weights[l], m = net.sizes[l + 1], next = new Float64Array(P * m);
    for (let p = 0; p < P; p++) {
      for (let i = 0; i < n; i++) {
        const v = acc[p * n + i];
        if (v === 0) continue;
        for (let j = 0; j < m; j++) next[p * m + j] += v * w[i * m + j];
      }
    }
    acc = next; n = m;
  }
  return withShape(acc, [P, n]);
}

/** A neuron's incoming weights and composed input-shaped image (an inspector without server). */
export function neuronWeights(net, layer, index) {
  const nIn = net.sizes[layer], nOut = net.sizes[layer + 1], w = net.weights[layer];
  const incoming = new Float64Array(nIn);
  for (let i = 0; i < nIn; i++) incoming[i] = w[i * nOut + index];
  const P = net.sizes[0], comp = composedWeights(net, layer), m = comp.shape[1];
  const composed = new Float64Array(P);
  for (let p = 0; p < P; p++) composed[p] = comp[p * m + index];
  return { incoming, incoming_shape: layer === 0 ? net.inputShape : gridShape(nIn), composed,
           bias: net.biases[layer][index] };
}

/** Rows × columns for showing n values: digitlens/layout.py's grid_shape, the one rule (a row
 * up to 12, an exact near-square factorisation of aspect ≤ 2, else a square-ish grid). */
export function gridShape(n) {
  if (n <= 12) return [1, Math.max(n, 1)];
  for (let rows = Math.floor(Math.sqrt(n)); rows > 0; rows--) {
    if (n % rows === 0 && n / rows <= 2 * rows) return [rows, n / rows];
  }
  const cols = Math.ceil(Math.sqrt(n));
  return [Math.ceil(n / cols), cols];
}

/** The value a neuron must exceed to count as active: what its activation gives for z = 0
 * (ReLU, tanh, identity 0; sigmoid 0.5; softmax 1/n), as analysis/activity.py's active_above. */
export function activeAbove(activation, n = 1) {
  return activation === "softmax" ? 1 / n : ACTIVATIONS[activation](0);
}

/** Accuracy and predictions over many uint8 images (one per input size), with knock-outs. */
export function accuracy(net, images, labels, knockout) {
  const P = net.sizes[0], n = labels.length, x = new Float32Array(P), predictions = new Int32Array(n);
  let right = 0;
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < P; i++) x[i] = images[k * P + i] / 255;
    predictions[k] = net.trace(x, { knockout }).prediction;
    if (predictions[k] === labels[k]) right++;
  }
  return { accuracy: n ? right / n : 0, predictions };
}

// A layer's values on its two principal directions: (a − mean) · componentsᵀ, as
// analysis/maps.py projects the test digits (the hidden-space map's moving point).
export function project(activations, mean, components) {
  const out = [0, 0];
  for (let c = 0; c < 2; c++) {
    const w = components[c];
    let s = 0;
    for (let i = 0; i < mean.length; i++) s += (activations[i] - mean[i]) * w[i];
    out[c] = s;
  }
  return out;
}

// A layer's activations as the features of its sparse autoencoder (analysis/sae.py's
// SAE.encode): f = TopK_k(ReLU((a − b_dec)·W_enc + b_enc)), all but the k largest set to 0.
// sae: { W_enc (n × F Float32Array, row-major), b_enc (F), b_dec (n), k }. Returns the F
// values (float32) and the firing features, strongest first.
export function encodeFeatures(sae, activations) {
  const { W_enc: w, b_enc: b, b_dec: d, k } = sae, F = b.length, n = d.length;
  if (activations.length !== n || w.length !== n * F) {
    throw new EngineError(`the feature atlas is of a ${n}-neuron layer, not of this ${activations.length}-neuron one`);
  }
  const pre = Float64Array.from(b);  // (1, n) @ (n, F) -> (1, F), a row of W_enc per input
  for (let i = 0; i < n; i++) {
    const x = activations[i] - d[i], row = i * F;
    for (let j = 0; j < F; j++) pre[j] += x * w[row + j];
  }
  const firing = [];
  for (let j = 0; j < F; j++) if (pre[j] > 0) firing.push(j);
  firing.sort((p, q) => pre[q] - pre[p] || p - q);
  const active = firing.slice(0, k), values = new Float32Array(F);
  for (const j of active) values[j] = pre[j];
  return { values, active };
}
