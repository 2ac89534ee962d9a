// Layer and neuron names as the page shows them: digitlens/numbering.py's, the one numbering
// of CLI, API, page, report and workbook (docs/numbering.md). Layer 0 is the first hidden
// layer, nLayers - 1 the output; neurons count from 0; a neuron is written LAYER:NEURON.
// tests/web/test_page_parity.py holds these equal to the Python functions (in English; the
// words come from the language catalogue).

import { t } from "./i18n.js";

export function spell(layer, neuron) { return `${layer}:${neuron}`; }

export function layerName(layer, nLayers = 0) {  // without nLayers: a hidden layer
  return t("num.layer", { l: layer, kind: t(layer === nLayers - 1 ? "num.output" : "num.hidden") });
}

export function neuronName(layer, neuron) { return t("num.neuron", { n: spell(layer, neuron) }); }

export function weightsName(layer) { return `W${layer}`; }
