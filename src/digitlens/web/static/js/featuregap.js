// The gap between two answers split over the features of the last hidden layer's atlas: the
// page's copy of digitlens.analysis.feature_gap (tests/web/test_features_browser.py holds it
// to that on the page's own numbers). The gap is linear in the last hidden layer's
// activations a, and the atlas writes a as â = f·W_dec + b_dec plus what it misses, so
//   gap = Σ_i f_i·(W_dec[i]·ΔW) + b_dec·ΔW + (a − â)·ΔW + Δb,  ΔW = W[:, target] − W[:, contrast]
// with every part computed on its own (what the atlas misses too), from the page's network.

import { EngineError } from "./engine-error.js";

/**
 * @param {{sizes: number[], nLayers: number, weights: Float32Array[], biases: Float32Array[]}} net
 * @param {{W_enc: Float32Array, b_enc: Float32Array, W_dec: Float32Array, b_dec: Float32Array, k: number}} sae
 *   an atlas of net's last hidden layer
 * @param {ArrayLike<number>} hidden the last hidden layer's activations
 * @param {{values: Float32Array, active: number[]}} features `encodeFeatures(sae, hidden)`
 */
export function featureGap(net, sae, hidden, features, target, contrast) {
  const H = net.nLayers - 1, C = net.sizes[H + 1], n = net.sizes[H], F = sae.b_enc.length;
  if (hidden.length !== n || sae.W_dec.length !== F * n) {
    throw new EngineError(`the feature atlas is of a ${sae.b_dec.length}-neuron layer, not of the last hidden layer's ${n}`);
  }
  const w = net.weights[H], dW = new Float64Array(n);
  for (let i = 0; i < n; i++) dW[i] = w[i * C + target] - w[i * C + contrast];
  const { values, active } = features;
  const rebuilt = Float64Array.from(sae.b_dec), terms = [];
  let sum = 0;
  for (const j of active) {
    let push = 0;
    const row = j * n, f = values[j];
    for (let i = 0; i < n; i++) { push += sae.W_dec[row + i] * dW[i]; rebuilt[i] += f * sae.W_dec[row + i]; }
    terms.push({ feature: j, value: f, effect: f * push });
  }
  terms.sort((x, y) => y.effect - x.effect || x.feature - y.feature);
  for (const term of terms) sum += term.effect;
  let decoderBias = 0, missed = 0, direct = 0;
  for (let i = 0; i < n; i++) {
    decoderBias += sae.b_dec[i] * dW[i]; missed += (hidden[i] - rebuilt[i]) * dW[i]; direct += hidden[i] * dW[i];
  }
  const bias = net.biases[H][target] - net.biases[H][contrast];
  return { terms, features_sum: sum, decoder_bias: decoderBias, missed, bias_difference: bias, gap: direct + bias };
}
