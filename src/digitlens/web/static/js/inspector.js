// The neuron inspector: what a neuron looks for (incoming and composed weights, bias), S4's
// arithmetic of its current value with the real numbers, the test digits that excite it most,
// and a switch to knock it out. Detail comes from /api/neuron, live numbers from the engine (local.js).

import { biasCss, hue, maxAbs, paint, paintDigit } from "./colors.js";
import { asButton } from "./keyboard.js";
import { input } from "./state.js";
import { esc } from "./escape.js";
import { layerName, neuronName, spell, weightsName } from "./numbering.js";

const ACT_NAMES = { relu: "ReLU", sigmoid: "sigmoid", tanh: "tanh", identity: "identity",
                    softmax: "softmax" };

function sourceName(layer, i) {
  const w = input.shape[1];
  return layer === 0 ? `pixel (${Math.floor(i / w)}, ${i % w})` : `neuron ${spell(layer - 1, i)}`;
}

const composedName = (layer) => Array.from({ length: layer + 1 }, (_, i) => weightsName(i)).join("·");

const fmt = (v, d = 4) => (v >= 0 ? "+" : "−") + Math.abs(v).toFixed(d);

export function renderArithmetic(el, a, layer) {
  if (!a) { el.textContent = "draw a digit to see this neuron's arithmetic"; return; }
  const f = esc(ACT_NAMES[a.activation] || a.activation);
  const rows = (list) => list.slice(0, 4).map((t) =>
    `<tr><td>${sourceName(layer, t.index)}</td><td>${t.input.toFixed(3)} × ${t.weight.toFixed(3)}</td>` +
    `<td class="${t.product >= 0 ? "pos" : "neg"}">= ${fmt(t.product)}</td></tr>`).join("");
  const valueLine = a.knocked_out ? `switched off: value forced to 0 (it would be ${f}(z))`
    : a.activation === "softmax" ? `softmax(z) = e<sup>z</sup> / Σ e<sup>z</sup> = <b>${a.value.toFixed(4)}</b>`
      : `${f}(z) = <b>${a.value.toFixed(4)}</b>`;
  el.innerHTML =
    `value = ${f}( Σ inputs × weights + bias )<br>` +
    `Σ over ${a.n_inputs} inputs (${a.n_active} non-zero):<br>` +
    `&nbsp; positive terms <span class="pos">${fmt(a.positive_sum)}</span>` +
    ` &nbsp; negative terms <span class="neg">${fmt(a.negative_sum)}</span>` +
    ` &nbsp; sum ${fmt(a.sum)}<br>` +
    `z = sum + bias = ${fmt(a.sum)} + (${fmt(a.bias)}) = <b>${fmt(a.z)}</b><br>` +
    `${valueLine}` +
    `<table>${rows(a.top_positive)}${rows(a.top_negative)}</table>`;
}

export function renderInspector(el, d, opts) {
  const { nLayers, knocked, onClose, onKnockout, onLoadTest } = opts;
  const hidden = d.kind === "hidden";
  const pct = (v) => `${(100 * v).toFixed(2)}%`;
  el.innerHTML = `
    <div class="insp-head"><h2>Neuron inspector</h2><b data-testid="inspector-title">${layerName(d.layer, nLayers)} · ${neuronName(d.layer, d.neuron)}</b>
      <span class="hint">${esc(ACT_NAMES[d.activation] || d.activation)} · ${hidden
        ? `active for ${pct(d.test_active)} of ${esc(d.population || "test digits")}` : `average value ${d.test_mean.toFixed(3)} on ${esc(d.population || "test digits")}`}</span>
      <button class="png" id="insp-close" title="close" aria-label="close the inspector">✕</button></div>
    <div class="insp-imgs">
      <figure><canvas id="insp-in" role="img" aria-label="its incoming weights: ${hue("pos")} pushes it up, ${hue("neg")} down"></canvas>incoming weights<br><small>${d.layer === 0 ? "one per pixel" : `one per neuron of ${layerName(d.layer - 1, nLayers)}`}</small></figure>
      <figure><canvas id="insp-comp" width="${input.shape[1]}" height="${input.shape[0]}" role="img" aria-label="the pixels that excite it (${hue("pos")}) and that calm it (${hue("neg")})"></canvas>composed to ${input.shape[0]}×${input.shape[1]}<br><small>${d.layer === 0 ? "same as its weights" : `${composedName(d.layer)}: what it looks for`}</small></figure>
      <figure><div class="biasbar" id="insp-bias"><div></div></div>bias<br><small>${fmt(d.bias, 3)}</small></figure>
    </div>
    <div class="maths" id="insp-maths" data-testid="arithmetic" tabindex="0" role="region" aria-label="this neuron's arithmetic"></div>
    <p class="explain">Test digits that excite it most (click to load):</p>
    <div class="excite" id="insp-top"></div>
    ${hidden ? `<label class="switch"><input type="checkbox" id="insp-ko" data-testid="knockout" ${knocked ? "checked" : ""}>
      switch this neuron off</label>
      <p class="ko-acc" data-testid="knockout-accuracy">${esc(d.knockout.scope || "test accuracy")} ${pct(d.knockout.accuracy_with)} with it,
      <b>${pct(d.knockout.accuracy_without)}</b> without it</p>`
    : `<p class="ko-acc">An output neuron is a class itself, so it cannot be switched off.</p>`}`;
  const [h, w] = d.incoming_shape;
  paint(el.querySelector("#insp-in"), d.incoming, w, h, "diverging");
  paint(el.querySelector("#insp-comp"), d.composed, input.shape[1], input.shape[0], "diverging");
  const bar = el.querySelector("#insp-bias div");
  const scale = Math.max(Math.abs(d.bias), maxAbs(d.incoming)) || 1;
  const frac = Math.min(1, Math.abs(d.bias) / scale) * 50;
  bar.style.background = biasCss(d.bias >= 0);
  bar.style.top = d.bias >= 0 ? `${50 - frac}%` : "50%";
  bar.style.height = `${Math.max(1, frac)}%`;
  const top = el.querySelector("#insp-top");
  for (const t of d.top_test) {
    const c = document.createElement("canvas");
    c.title = `test #${t.index}, label ${t.label}, value ${t.value.toFixed(3)}`;
    paintDigit(c, t.image, input.shape);
    c.addEventListener("click", () => onLoadTest(t.index, t.image, t.label, t.name));
    asButton(c, `load test digit #${t.index}, labelled ${t.label}, value ${t.value.toFixed(2)}`, () => c.click());
    top.appendChild(c);
  }
  el.querySelector("#insp-close").addEventListener("click", onClose);
  el.querySelector("#insp-ko")?.addEventListener("change", onKnockout);
}
