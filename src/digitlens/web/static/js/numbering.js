// Layer and neuron names as the page shows them: digitlens/numbering.py's, the one numbering
// of CLI, API, page, report and workbook (docs/numbering.md). Layer 0 is the first hidden
// layer, nLayers - 1 the output; neurons count from 0; a neuron is written LAYER:NEURON.
// tests/web/test_page_parity.py holds these equal to the Python functions.

export function spell(layer, neuron) { return `${layer}:${neuron}`; }

export function layerName(layer, nLayers = 0) {  // without nLayers: a hidden layer
  return `layer ${layer} (${layer === nLayers - 1 ? "output" : "hidden"})`;
}

export function neuronName(layer, neuron) { return `neuron ${spell(layer, neuron)}`; }

export function weightsName(layer) { return `W${layer}`; }
