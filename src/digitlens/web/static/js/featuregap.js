// The gap between two answers split over the features of the last hidden layer's atlas: the
// page's copy of digitlens.analysis.feature_gap (tests/web/test_feature_gap.py compares them).
// The gap is linear in the last hidden layer's activations a, and the atlas writes a as
// f·W_dec + b_dec plus what it misses, so gap = Σ_i f_i·(W_dec[i]·ΔW) + b_dec·ΔW + missed + Δb
// with ΔW = W[:, target] − W[:, contrast]. The server sends W_dec·W_out (`pushes`, F × classes)
// and b_dec·W_out (`bias_pushes`); what the atlas misses is what the circuit's decomposition
// (Σ_j a_j·ΔW_j) leaves after the features and the atlas bias.

/**
 * @param {{pushes: Float32Array, bias_pushes: Float32Array|number[]}} atlas
 * @param {number[]} active the firing features
 * @param {Float32Array} values every feature's value (0 for those that do not fire)
 * @param {{target: number, contrast: number, decomposition: {direct_sum: number, bias_difference: number}}} c
 */
export function featureGap(atlas, active, values, c) {
  const bp = atlas.bias_pushes, C = bp.length, p = atlas.pushes, { target: t, contrast: o } = c;
  const terms = active.map((j) => ({ feature: j, value: values[j], effect: values[j] * (p[j * C + t] - p[j * C + o]) }));
  terms.sort((x, y) => y.effect - x.effect || x.feature - y.feature);
  let sum = 0;
  for (const term of terms) sum += term.effect;
  const decoderBias = bp[t] - bp[o], { direct_sum: direct, bias_difference: bias } = c.decomposition;
  return { terms, features_sum: sum, decoder_bias: decoderBias, missed: direct - sum - decoderBias,
           bias_difference: bias, gap: direct + bias };
}
