// The neuron inspector: what a neuron looks for (incoming and composed weights, bias), S4's
// arithmetic of its current value with the real numbers, the test digits that excite it most,
// and a switch to knock it out. Detail comes from /api/neuron, live numbers from the engine (local.js).

import { biasCss, hue, maxAbs, paint, paintDigit } from "./colors.js";
import { asButton } from "./keyboard.js";
import { input } from "./state.js";
import { esc } from "./escape.js";
import { layerName, neuronName, spell, weightsName } from "./numbering.js";
import { num, pct as share, t } from "./i18n.js";

const ACT_NAMES = { relu: "ReLU", sigmoid: "sigmoid", tanh: "tanh", identity: "identity",
                    softmax: "softmax" };

function sourceName(layer, i) {
  const w = input.shape[1];
  return layer === 0 ? t("insp.pixel", { r: Math.floor(i / w), c: i % w }) : t("insp.neuron", { n: spell(layer - 1, i) });
}

const composedName = (layer) => Array.from({ length: layer + 1 }, (_, i) => weightsName(i)).join("·");

const fmt = (v, d = 4) => (v >= 0 ? "+" : "−") + num(Math.abs(v), d);

export function renderArithmetic(el, a, layer) {
  if (!a) { el.textContent = t("insp.drawFirst"); return; }
  const f = esc(ACT_NAMES[a.activation] || a.activation);
  const rows = (list) => list.slice(0, 4).map((term) =>
    `<tr><td>${esc(sourceName(layer, term.index))}</td><td>${num(term.input, 3)} × ${num(term.weight, 3)}</td>` +
    `<td class="${term.product >= 0 ? "pos" : "neg"}">= ${fmt(term.product)}</td></tr>`).join("");
  const valueLine = a.knocked_out ? esc(t("insp.knocked", { f: ACT_NAMES[a.activation] || a.activation }))
    : a.activation === "softmax" ? `softmax(z) = e<sup>z</sup> / Σ e<sup>z</sup> = <b>${num(a.value, 4)}</b>`
      : `${f}(z) = <b>${num(a.value, 4)}</b>`;
  el.innerHTML =
    `${esc(t("insp.valueIs", { f: ACT_NAMES[a.activation] || a.activation }))}<br>` +
    `${esc(t("insp.sumOver", { n: num(a.n_inputs), k: num(a.n_active) }))}<br>` +
    `&nbsp; ${esc(t("insp.positive"))} <span class="pos">${fmt(a.positive_sum)}</span>` +
    ` &nbsp; ${esc(t("insp.negative"))} <span class="neg">${fmt(a.negative_sum)}</span>` +
    ` &nbsp; ${esc(t("insp.sum"))} ${fmt(a.sum)}<br>` +
    `${esc(t("insp.z"))} = ${fmt(a.sum)} + (${fmt(a.bias)}) = <b>${fmt(a.z)}</b><br>` +
    `${valueLine}` +
    `<table>${rows(a.top_positive)}${rows(a.top_negative)}</table>`;
}

export function renderInspector(el, d, opts) {
  const { nLayers, knocked, onClose, onKnockout, onLoadTest } = opts;
  const hidden = d.kind === "hidden";
  const pct = (v) => share(v, 2);
  const pop = esc(d.population || t("insp.testDigits"));
  el.innerHTML = `
    <div class="insp-head"><h2>${esc(t("insp.title"))}</h2><b data-testid="inspector-title">${layerName(d.layer, nLayers)} · ${neuronName(d.layer, d.neuron)}</b>
      <span class="hint">${esc(ACT_NAMES[d.activation] || d.activation)} · ${hidden
        ? esc(t("insp.activeFor", { p: pct(d.test_active), pop })) : esc(t("insp.average", { v: num(d.test_mean, 3), pop }))}</span>
      <button class="png" id="insp-close" title="${esc(t("insp.close"))}" aria-label="${esc(t("insp.closeAria"))}">✕</button></div>
    <div class="insp-imgs">
      <figure><canvas id="insp-in" role="img" aria-label="${esc(t("insp.inAria", { pos: hue("pos"), neg: hue("neg") }))}"></canvas>${esc(t("insp.incoming"))}<br><small>${esc(d.layer === 0 ? t("insp.perPixel") : t("insp.perNeuron", { layer: layerName(d.layer - 1, nLayers) }))}</small></figure>
      <figure><canvas id="insp-comp" width="${input.shape[1]}" height="${input.shape[0]}" role="img" aria-label="${esc(t("insp.compAria", { pos: hue("pos"), neg: hue("neg") }))}"></canvas>${esc(t("insp.composed", { field: `${input.shape[0]}×${input.shape[1]}` }))}<br><small>${esc(d.layer === 0 ? t("insp.sameAsWeights") : t("insp.looksFor", { w: composedName(d.layer) }))}</small></figure>
      <figure><div class="biasbar" id="insp-bias"><div></div></div>${esc(t("insp.bias"))}<br><small>${fmt(d.bias, 3)}</small></figure>
    </div>
    <div class="maths" id="insp-maths" data-testid="arithmetic" tabindex="0" role="region" aria-label="${esc(t("insp.mathsAria"))}"></div>
    <p class="explain">${esc(t("insp.topTest"))}</p>
    <div class="excite" id="insp-top"></div>
    ${hidden ? `<label class="switch"><input type="checkbox" id="insp-ko" data-testid="knockout" ${knocked ? "checked" : ""}>
      ${esc(t("insp.switchOff"))}</label>
      <p class="ko-acc" data-testid="knockout-accuracy">${esc(t("insp.koAcc", { scope: d.knockout.scope || t("ko.scope"), with: pct(d.knockout.accuracy_with) }))}
      <b>${pct(d.knockout.accuracy_without)}</b> ${esc(t("insp.without"))}</p>`
    : `<p class="ko-acc">${esc(t("insp.outputNoKo"))}</p>`}`;
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
  for (const d2 of d.top_test) {
    const c = document.createElement("canvas");
    c.title = t("insp.topTitle", { i: d2.index, label: d2.label, v: num(d2.value, 3) });
    paintDigit(c, d2.image, input.shape);
    c.addEventListener("click", () => onLoadTest(d2.index, d2.image, d2.label, d2.name));
    asButton(c, t("insp.topAria", { i: d2.index, label: d2.label, v: num(d2.value, 2) }), () => c.click());
    top.appendChild(c);
  }
  el.querySelector("#insp-close").addEventListener("click", onClose);
  el.querySelector("#insp-ko")?.addEventListener("change", onKnockout);
}
