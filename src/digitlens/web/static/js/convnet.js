// A convolutional network in the page: the forward pass of digitlens/nn/cnn.py (convolutions
// with stride and padding, max- and average-pooling, the maps flattened in PyTorch's order
// (channel, row, column), dense layers), one unit's arithmetic, its receptive field and the
// knock-out of whole channels. Python's engine stays the reference: tests/web/test_convnet.py
// compares the two number for number. No DOM: it runs in a browser and in Node.
//
// Maps are kept channel by channel, (channels, rows, columns) row-major, so a channel is one
// run of memory to draw and the flattening the first dense layer reads is the layout itself.
// Kernels arrive as PyTorch stores them, (out, in, k, k); dense weights as (n_in, n_out). Sums
// run in float64 and are stored as float32 as the Python engine stores them; `float64: true`
// keeps every value in float64 (the tight parity check against Python's float64 pass).

import { EngineError } from "./engine-error.js";
import { ACTIVATIONS } from "./functions.js";

export const CNN_FORMAT = "digitlens-cnn-network";
const HIDDEN = ["sigmoid", "relu", "tanh", "identity"];
const OUTPUTS = ["softmax", "sigmoid"];
const EPS = 1e-12;

const whole = (v, low, high) => Number.isInteger(v) && v >= low && v <= high;

/** Each layer's output shape ([c, h, w] for maps, [n] for dense), the input's first. */
export function shapesOf(inputShape, layers) {
  const shapes = [inputShape];
  layers.forEach((layer, i) => {
    const here = shapes.at(-1), where = `layers[${i}]`;
    if (layer.kind === "dense") {
      const kinds = i === layers.length - 1 ? OUTPUTS : HIDDEN;
      if (!whole(layer.out, 1, 1e5) || !kinds.includes(layer.activation)) throw new EngineError(`${where} is not a dense layer the page can run`);
      shapes.push([layer.out]);
      return;
    }
    if (here.length !== 3) throw new EngineError(`${where} needs feature maps to read`);
    const [c, h, w] = here;
    if (layer.kind === "conv") {
      const { out, k, stride, pad } = layer;
      if (!whole(out, 1, 4096) || !whole(k, 1, 64) || !whole(stride, 1, 64) || !whole(pad, 0, 64)
          || !HIDDEN.includes(layer.activation)) throw new EngineError(`${where} is not a convolution the page can run`);
      const ho = Math.floor((h + 2 * pad - k) / stride) + 1, wo = Math.floor((w + 2 * pad - k) / stride) + 1;
      if (ho < 1 || wo < 1) throw new EngineError(`${where}: its kernel is larger than its input`);
      shapes.push([out, ho, wo]);
    } else if (layer.kind === "pool") {
      if (!["max", "avg"].includes(layer.type) || !whole(layer.k, 1, Math.min(h, w))) throw new EngineError(`${where} is not a pooling the page can run`);
      shapes.push([c, Math.floor(h / layer.k), Math.floor(w / layer.k)]);
    } else throw new EngineError(`${where}: unknown layer kind ${JSON.stringify(layer.kind)}`);
  });
  if (layers.at(-1)?.kind !== "dense") throw new EngineError("the last layer must be dense");
  return shapes;
}

function finite(a, where) {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) throw new EngineError(`${where} holds a value that is not finite`);
  return a;
}

/** The bytes of base64 text (a page's inlined data). */
export function base64Bytes(text) {
  const bin = atob(text), out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function floats(text, where) {
  if (typeof text !== "string") throw new EngineError(`${where} is not base64 text`);
  const bytes = base64Bytes(text);
  if (bytes.length % 4) throw new EngineError(`${where} is not whole float32 values`);
  return new Float32Array(bytes.buffer, 0, bytes.length / 4);
}

/**
 * A `digitlens-cnn-network` document whose parameters travel as base64 of little-endian float32
 * (the single-file explorer's, the classroom's) with them as the arrays `loadConvNet` reads.
 */
export function withFloats(doc) {
  const params = Array.isArray(doc?.params) ? doc.params : [];
  return { ...doc, params: params.map((p, i) => ({ weights: floats(p?.weights, `params[${i}].weights`),
                                                  biases: floats(p?.biases, `params[${i}].biases`) })) };
}

/** A ConvNet from the server's packed `digitlens-cnn-network` document (api/runs/NAME/network). */
export function loadConvNet(doc) {
  if (!doc || doc.format !== CNN_FORMAT) throw new EngineError(`not a ${CNN_FORMAT} document`);
  if (doc.version !== 1) throw new EngineError(`unsupported version ${JSON.stringify(doc.version)}`);
  const inputShape = doc.input_shape;
  if (!Array.isArray(inputShape) || inputShape.length !== 3 || !inputShape.every((s) => whole(s, 1, 4096))) {
    throw new EngineError("input_shape must be [channels, height, width]");
  }
  if (!Array.isArray(doc.layers) || !doc.layers.length) throw new EngineError("layers must be a list");
  const shapes = shapesOf(inputShape, doc.layers);
  const params = [];
  let p = 0;
  doc.layers.forEach((layer, i) => {
    if (layer.kind === "pool") { params.push(null); return; }
    const given = doc.params?.[p++], before = shapes[i];
    const nIn = layer.kind === "conv" ? before[0] * layer.k * layer.k : before.reduce((a, b) => a * b, 1);
    const w = given?.weights, b = given?.biases;
    if (!(w instanceof Float32Array) || w.length !== nIn * layer.out || !(b instanceof Float32Array) || b.length !== layer.out) {
      throw new EngineError(`params of layers[${i}] do not fit its shape`);
    }
    params.push({ w: finite(w, `layers[${i}].weights`), b: finite(b, `layers[${i}].biases`) });
  });
  if (p !== (doc.params?.length ?? 0)) throw new EngineError("params lists more layers than the network has");
  const C = shapes.at(-1)[0], names = Array.isArray(doc.class_names) && doc.class_names.length === C
    ? doc.class_names.map(String) : Array.from({ length: C }, (_, i) => String(i));
  return new ConvNet(inputShape, doc.layers, shapes, params, names);
}

export class ConvNet {
  constructor(inputShape, layers, shapes, params, classNames) {
    this.kind = "cnn";
    this.layers = layers; this.shapes = shapes; this.params = params; this.classNames = classNames;
    this.channels = inputShape[0];
    this.inputShape = [inputShape[1], inputShape[2]];  // what a drawing is preprocessed to
    this.nInputs = inputShape[0] * inputShape[1] * inputShape[2];
  }

  /** The layers that make feature maps (convolutions and poolings), by index. */
  get mapLayers() { return this.layers.flatMap((l, i) => (l.kind === "dense" ? [] : [i])); }

  /** {layer: [channels]} -> Map layer -> Uint8Array (1 = off), for map layers only. */
  masks(knockout) {
    const out = new Map();
    for (const [key, list] of Object.entries(knockout || {})) {
      const layer = Number(key), shape = this.shapes[layer + 1];
      if (!Number.isInteger(layer) || !this.layers[layer] || this.layers[layer].kind === "dense") {
        throw new EngineError(`knockout layer ${key} is not a layer of feature maps`);
      }
      if (!Array.isArray(list) || !list.length) continue;
      const off = new Uint8Array(shape[0]);
      for (const c of list) {
        if (!whole(c, 0, shape[0] - 1)) throw new EngineError(`knockout channel ${c} is not in 0..${shape[0] - 1}`);
        off[c] = 1;
      }
      out.set(layer, off);
    }
    return out;
  }

  /**
   * The forward pass of one input (nInputs values in 0..1, channel, row, column): outputs[0]
   * the input, outputs[i + 1] layer i's output after its nonlinearity and knock-outs, zs[i]
   * a convolution's or dense layer's pre-activation (null for a pooling).
   */
  trace(pixels, { knockout = undefined, float64 = false } = {}) {
    if (!pixels || pixels.length !== this.nInputs) throw new EngineError(`the input must be ${this.nInputs} numbers, got ${pixels?.length}`);
    const Store = float64 ? Float64Array : Float32Array, masks = this.masks(knockout);
    const input = Store.from(pixels);
    for (const v of input) if (!(v >= 0 && v <= 1)) throw new EngineError("the input's values must lie in 0..1");
    const outputs = [input], zs = [];
    let a = input;
    this.layers.forEach((layer, i) => {
      const [c, h, w] = this.shapes[i], shape = this.shapes[i + 1];
      let z = null, out;
      if (layer.kind === "conv") {
        z = convolve(a, c, h, w, layer, this.params[i], shape, Store);
        out = activate(z, layer.activation, Store);
      } else if (layer.kind === "pool") {
        out = pool(a, c, h, w, layer, shape, Store);
      } else {
        z = dense(a, this.params[i], layer.out, Store);
        out = layer.activation === "softmax" ? softmax(z, Store) : activate(z, layer.activation, Store);
      }
      const off = masks.get(i);
      if (off) {
        const per = shape[1] * shape[2];
        off.forEach((o, ch) => { if (o) out.fill(0, ch * per, (ch + 1) * per); });
      }
      zs.push(z); outputs.push(out); a = out;
    });
    const output = outputs.at(-1);
    let probabilities = output, prediction = 0;
    if (this.layers.at(-1).activation !== "softmax") {
      let s = 0;
      for (const v of output) s += v;
      probabilities = output.map((v) => v / Math.max(s, EPS));
    }
    for (let j = 1; j < output.length; j++) if (output[j] > output[prediction]) prediction = j;
    return { input, outputs, zs, probabilities, prediction, masks };
  }

  /** Which input pixels unit (row, col) of layer `layer`'s maps reads, through every layer
   * below: {top, left, bottom, right} inclusive, clipped to the input. */
  receptiveField(layer, row, col) {
    let r0 = row, r1 = row, c0 = col, c1 = col;
    for (let i = layer; i >= 0; i--) {
      const l = this.layers[i];
      const s = l.kind === "conv" ? l.stride : l.k, p = l.kind === "conv" ? l.pad : 0;
      r0 = r0 * s - p; c0 = c0 * s - p; r1 = r1 * s - p + l.k - 1; c1 = c1 * s - p + l.k - 1;
    }
    const [H, W] = this.inputShape;
    return { top: Math.max(0, r0), left: Math.max(0, c0), bottom: Math.min(H - 1, r1), right: Math.min(W - 1, c1) };
  }

  /**
   * One unit of a feature map worked out: a convolution's k×k×channels inputs × weights (a
   * window's place in the padding reads 0), their sum, the bias, z and the activation; a
   * pooling's k×k values and the max or mean. `trace` is this network's trace of the input.
   */
  unit(trace, layer, channel, row, col) {
    const l = this.layers[layer], shape = this.shapes[layer + 1];
    if (!l || l.kind === "dense") throw new EngineError(`layer ${layer} has no feature maps`);
    if (!whole(channel, 0, shape[0] - 1) || !whole(row, 0, shape[1] - 1) || !whole(col, 0, shape[2] - 1)) {
      throw new EngineError(`no unit (${channel}, ${row}, ${col}) in a ${shape.join("×")} layer`);
    }
    const [c, h, w] = this.shapes[layer], a = trace.outputs[layer];
    const value = trace.outputs[layer + 1][(channel * shape[1] + row) * shape[2] + col];
    const knocked = trace.masks.get(layer)?.[channel] === 1;
    const terms = [];
    if (l.kind === "pool") {
      for (let i = 0; i < l.k; i++) {
        for (let j = 0; j < l.k; j++) {
          const y = row * l.k + i, x = col * l.k + j;
          terms.push({ channel, i, j, y, x, input: a[(channel * h + y) * w + x] });
        }
      }
      const values = terms.map((t) => t.input);
      const result = l.type === "max" ? Math.max(...values) : values.reduce((s, v) => s + v, 0) / values.length;
      return { kind: "pool", type: l.type, k: l.k, layer, channel, row, col, terms, result, value, knocked_out: knocked };
    }
    const { w: kernels, b } = this.params[layer], k = l.k;
    let sum = 0;
    for (let ci = 0; ci < c; ci++) {
      for (let i = 0; i < k; i++) {
        for (let j = 0; j < k; j++) {
          const y = row * l.stride - l.pad + i, x = col * l.stride - l.pad + j;
          const inside = y >= 0 && y < h && x >= 0 && x < w;
          const input = inside ? a[(ci * h + y) * w + x] : 0, weight = kernels[((channel * c + ci) * k + i) * k + j];
          terms.push({ channel: ci, i, j, y, x, inside, input, weight, product: input * weight });
          sum += input * weight;
        }
      }
    }
    const z = sum + b[channel];
    return { kind: "conv", k, layer, channel, row, col, terms, sum, bias: b[channel], z, activation: l.activation,
             result: ACTIVATIONS[l.activation](z), value, knocked_out: knocked };
  }
}

// z (out, ho, wo) = the kernels slid over a (c, h, w) with stride and padding, plus the bias
function convolve(a, c, h, w, layer, { w: kernels, b }, [out, ho, wo], Store) {
  const { k, stride, pad } = layer, z = new Store(out * ho * wo), kk = k * k;
  for (let o = 0; o < out; o++) {
    for (let r = 0; r < ho; r++) {
      for (let q = 0; q < wo; q++) {
        let acc = 0;
        const y0 = r * stride - pad, x0 = q * stride - pad;
        for (let ci = 0; ci < c; ci++) {
          const kb = (o * c + ci) * kk, ab = ci * h * w;
          for (let i = 0; i < k; i++) {
            const y = y0 + i;
            if (y < 0 || y >= h) continue;
            const row = ab + y * w, kr = kb + i * k;
            for (let j = 0; j < k; j++) {
              const x = x0 + j;
              if (x >= 0 && x < w) acc += a[row + x] * kernels[kr + j];
            }
          }
        }
        z[(o * ho + r) * wo + q] = acc + b[o];
      }
    }
  }
  return z;
}

function pool(a, c, h, w, { k, type }, [, ho, wo], Store) {
  const out = new Store(c * ho * wo), n = k * k;
  for (let ch = 0; ch < c; ch++) {
    for (let r = 0; r < ho; r++) {
      for (let q = 0; q < wo; q++) {
        let m = -Infinity, s = 0;
        for (let i = 0; i < k; i++) {
          const row = (ch * h + r * k + i) * w + q * k;
          for (let j = 0; j < k; j++) { const v = a[row + j]; if (v > m) m = v; s += v; }
        }
        out[(ch * ho + r) * wo + q] = type === "max" ? m : s / n;
      }
    }
  }
  return out;
}

// (n_in) @ (n_in, n_out) + b: the maps already lie in PyTorch's flattening order
function dense(a, { w, b }, nOut, Store) {
  const acc = new Float64Array(nOut);
  for (let i = 0; i < a.length; i++) {
    const ai = a[i];
    if (ai === 0) continue;
    const row = i * nOut;
    for (let j = 0; j < nOut; j++) acc[j] += ai * w[row + j];
  }
  const z = new Store(nOut);
  for (let j = 0; j < nOut; j++) z[j] = acc[j] + b[j];
  return z;
}

function activate(z, name, Store) {
  const f = ACTIVATIONS[name], out = new Store(z.length);
  for (let i = 0; i < z.length; i++) out[i] = f(z[i]);
  return out;
}

function softmax(z, Store) {
  let m = -Infinity, s = 0;
  for (const v of z) if (v > m) m = v;
  const e = new Float64Array(z.length);
  for (let j = 0; j < z.length; j++) { e[j] = Math.exp(z[j] - m); s += e[j]; }
  const out = new Store(z.length);
  for (let j = 0; j < z.length; j++) out[j] = e[j] / s;
  return out;
}
