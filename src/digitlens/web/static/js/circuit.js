// The circuit behind one answer, computed in the page: the same definition as
// digitlens.analysis.patching.circuit (the reference; tests/web/test_circuit.py compares the
// two number for number), fast enough to follow a drawing stroke by stroke.
//
// gap = z_target − z_contrast (scores before the softmax). A hidden neuron is removed by
// giving it its mean activation over the test set (`means`, from the server). Its effect is
// the drop in the gap when it alone is removed. Instead of one whole forward pass per neuron,
// the structure of the network is used: in the last hidden layer the gap is linear, so the
// effect is (a_j − m_j)·(W[j, t] − W[j, c]); removing neuron j of an earlier layer moves the
// next layer's pre-activations by the rank-1 update (m_j − a_j)·W[j, :], after which the pass
// carries on from there. The circuit is the `maxNodes` largest effects; `restored` and
// `removed` are two whole passes with everything outside (or inside) the circuit removed.
// Gaps are computed in float64 from the float32 weights, as the reference computes them; the
// edges (a·w) and the last layer's decomposition use the float32 forward pass, as it does.

import { EngineError } from "./engine-error.js";
import { ACTIVATIONS } from "./functions.js";

export const MAX_NODES = 30;

// z = a @ W + b for one row, in float64 (W: n_in × n_out row-major float32)
function dense(a, w, b, nOut) {
  const z = new Float64Array(nOut);
  for (let j = 0; j < nOut; j++) z[j] = b[j];
  for (let i = 0; i < a.length; i++) {
    const ai = a[i];
    if (ai === 0) continue;
    const row = i * nOut;
    for (let j = 0; j < nOut; j++) z[j] += ai * w[row + j];
  }
  return z;
}

function apply(name, z) {
  const f = ACTIVATIONS[name], a = new Float64Array(z.length);
  for (let j = 0; j < z.length; j++) a[j] = f(z[j]);
  return a;
}

// The gap once the last hidden layer's pre-activations z move by d·w[row..]: Σ f(z + d·w)·dW + db
// (ReLU written out: this loop is most of a circuit's time, 512 × 256 terms on the default net;
// without a branch, as V8 stores a sum added to on one side of an `if` as a new heap number
// each time: ~1.3 MB of garbage per circuit).
function reluGap(z, w, row, d, dW, db) {
  let s = db;
  for (let k = 0; k < z.length; k++) { const v = z[k] + d * w[row + k]; s += (v > 0 ? v : 0) * dW[k]; }
  return s;
}

function shiftedGap(f, z, w, row, d, dW, db) {
  let s = db;
  for (let k = 0; k < z.length; k++) s += f(z[k] + d * w[row + k]) * dW[k];
  return s;
}

// Last hidden layer: removing neuron j lowers the gap by exactly (a_j − m_j)·dW_j.
function lastEffects(own, m, dW) {
  const e = new Float64Array(own.length);
  for (let j = 0; j < own.length; j++) e[j] = (own[j] - m[j]) * dW[j];
  return e;
}

// Hidden layer l < last: removing neuron j moves layer l + 1's pre-activations z by the
// rank-1 update (m_j − a_j)·W[j, :]; the pass carries on from there (onFrom) to the gap.
function shiftEffects(net, l, z, own, m, full, dW, db, onFrom) {
  const n = own.length, e = new Float64Array(n), w = net.weights[l + 1], nOut = z.length;
  const name = net.activations[l + 1], f = ACTIVATIONS[name], h = new Float64Array(nOut);
  const next = l + 1 === net.nLayers - 2;  // the last hidden layer: straight to the gap
  for (let j = 0; j < n; j++) {
    const d = m[j] - own[j];
    if (d === 0) continue;  // removing it changes nothing
    const row = j * nOut;
    if (next && name === "relu") e[j] = full - reluGap(z, w, row, d, dW, db);
    else if (next) e[j] = full - shiftedGap(f, z, w, row, d, dW, db);
    else {
      for (let k = 0; k < nOut; k++) h[k] = f(z[k] + d * w[row + k]);
      e[j] = full - onFrom(l + 1, h);
    }
  }
  return e;
}

function checkClass(value, name, n) {
  if (!Number.isInteger(value) || value < 0 || value >= n) {
    throw new EngineError(`${name} must be a class in 0..${n - 1}, got ${JSON.stringify(value)}`);
  }
}

/**
 * The circuit of `net` for input `pixels` (sizes[0] values in 0..1), with `means` each hidden
 * layer's mean test activation (float64). Returns what POST /api/circuit answers (target,
 * contrast, gap, nodes, edges, restored, removed, decomposition), the last hidden layer's
 * activations (`hidden`) and, for tests, every
 * neuron's `effects` and the last layer's `direct` terms. Target: the prediction by default;
 * contrast: the runner-up.
 */
export function circuit(net, pixels, means, { target = undefined, contrast = undefined, maxNodes = MAX_NODES } = {}) {
  const H = net.nLayers - 1, C = net.sizes.at(-1);
  if (H < 1) throw new EngineError("this network has no hidden layer: its answer is the weights times the pixels (see the evidence view)");
  if (!Number.isInteger(maxNodes) || maxNodes < 1) throw new EngineError(`max nodes must be an int >= 1, got ${maxNodes}`);
  if (!Array.isArray(means) || means.length !== H || means.some((m, l) => !m || m.length !== net.sizes[l + 1])) {
    throw new EngineError(`means must give each of the ${H} hidden layers' neurons`);
  }
  const t = net.trace(pixels);  // the float32 pass (the reference's model.trace)
  const z32 = t.zs.at(-1);
  const order = Array.from({ length: C }, (_, i) => i).sort((a, b) => z32[b] - z32[a] || a - b);
  target ??= order[0];
  contrast ??= order.find((c) => c !== target);
  checkClass(target, "target", C); checkClass(contrast, "contrast", C);
  if (target === contrast) throw new EngineError("the contrast must be a class other than the target");

  // the float64 pass: every hidden layer's z and a
  const zs = [], as = [];
  let a = Float64Array.from(t.input);
  for (let l = 0; l < H; l++) {
    const z = dense(a, net.weights[l], net.biases[l], net.sizes[l + 1]);
    a = apply(net.activations[l], z);
    zs.push(z); as.push(a);
  }
  // the gap is linear in the last hidden layer: gap = a · dW + db
  const last = net.weights[H], nLast = net.sizes[H], dW = new Float64Array(nLast);
  for (let j = 0; j < nLast; j++) dW[j] = last[j * C + target] - last[j * C + contrast];
  const db = net.biases[H][target] - net.biases[H][contrast];
  const gapOf = (h) => { let s = db; for (let j = 0; j < nLast; j++) s += h[j] * dW[j]; return s; };
  // the gap from hidden layer l's activations h on, each later layer's removed neurons at
  // their means (keep[l][j] = 1 keeps neuron j's own value; no keep: every one kept)
  const onFrom = (l, h, keep = null) => {
    for (let k = l + 1; k < H; k++) {
      h = apply(net.activations[k], dense(h, net.weights[k], net.biases[k], net.sizes[k + 1]));
      if (keep) for (let j = 0; j < h.length; j++) if (!keep[k][j]) h[j] = means[k][j];
    }
    return gapOf(h);
  };
  const full = gapOf(as[H - 1]);

  const effects = [];
  for (let l = 0; l < H; l++) {
    if (l === H - 1) effects.push(lastEffects(as[l], means[l], dW));
    else effects.push(shiftEffects(net, l, zs[l + 1], as[l], means[l], full, dW, db, onFrom));
  }

  // the largest effects, ties in (layer, neuron) order (the reference's stable sort), kept
  // by insertion into a short list (a sort of every neuron would allocate on every stroke)
  const nodes = [];  // [layer, neuron, effect], largest first
  effects.forEach((e, l) => {
    for (let j = 0; j < e.length; j++) {
      const v = e[j];
      if (nodes.length === maxNodes && !(v > nodes[maxNodes - 1][2])) continue;
      let p = nodes.length;
      while (p > 0 && nodes[p - 1][2] < v) p--;
      nodes.splice(p, 0, [l, j, v]);
      if (nodes.length > maxNodes) nodes.pop();
    }
  });
  const chosen = net.sizes.slice(1, -1).map((n) => new Uint8Array(n));
  for (const [l, j] of nodes) chosen[l][j] = 1;
  const gapWith = (keep) => {  // every hidden neuron with keep 0 at its mean
    const h = Float64Array.from(as[0]);
    for (let j = 0; j < h.length; j++) if (!keep[0][j]) h[j] = means[0][j];
    return onFrom(0, h, keep);
  };
  const kept = gapWith(chosen), gone = gapWith(chosen.map((c) => c.map((v) => 1 - v)));
  const scale = Math.abs(full) > 1e-12 ? full : 1e-12;

  const edges = [];  // the signals a·w between circuit neurons of consecutive hidden layers
  for (let l = 1; l < H; l++) {
    const w = net.weights[l], nOut = net.sizes[l + 1], from = t.activations[l - 1];
    for (const [la, i] of nodes) {
      if (la !== l - 1) continue;
      for (const [lb, j] of nodes) if (lb === l) edges.push({ layer: l, from: i, to: j, value: from[i] * w[i * nOut + j] });
    }
  }
  const direct = new Float64Array(nLast), hLast = t.activations[H - 1];
  let directSum = 0;
  for (let j = 0; j < nLast; j++) { direct[j] = hLast[j] * dW[j]; directSum += direct[j]; }
  const bias = net.biases[H][target] - net.biases[H][contrast];
  return {
    target, contrast, gap: full,
    nodes: nodes.map(([layer, neuron, effect]) => ({ layer, neuron, effect })),
    edges, restored: kept / scale, removed: 1 - gone / scale,
    decomposition: { direct_sum: directSum, bias_difference: bias, gap: full },
    hidden: hLast,  // the last hidden layer of the float32 pass (featuregap.js splits its gap)
    effects, direct,
  };
}
