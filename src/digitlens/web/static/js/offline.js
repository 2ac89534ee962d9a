// The single-file explorer (`digitlens export RUN --format html`): no server. The network and
// a balanced sample of test digits are inlined in the page (#digitlens-offline); this module
// answers the API paths the page asks (api.js answerLocally) from them with engine.js, so
// the same views and glue run as on the served page. Accuracies are measured on the shipped
// sample and say so; the circuit's means are the whole test set's, carried beside it.

import { answerLocally } from "./api.js";
import { base64Bytes as bytesOf, CNN_FORMAT, withFloats } from "./convnet.js";
import { accuracy, activeAbove, EngineError, gridShape, loadNetwork, neuronWeights } from "./engine.js";
import { start } from "./main.js";
import { num, t } from "./i18n.js";

class Offline {
  constructor(data) {
    this.name = data.run;
    const conv = data.network?.format === CNN_FORMAT;
    this.doc = conv ? withFloats(data.network) : data.network;
    this.net = loadNetwork(this.doc);  // refuses a hand-edited network, with the reason
    const images = bytesOf(data.sample.images), labels = data.sample.labels;
    this.P = conv ? this.net.nInputs : this.net.sizes[0];
    if (images.length !== this.P * labels.length) throw new EngineError("the shipped sample is damaged");
    this.images = images; this.labels = labels; this.indices = data.sample.indices;
    this.summary = { ...data.summary, name: this.name };
    this.scope = t("offline.scope", { n: num(labels.length) });
    this.cache = new Map();  // knock-out key -> {accuracy, predictions, probabilities}
    this.means = Array.isArray(data.means) ? data.means : [];  // per hidden layer, over the test set
  }

  image(k) { return Array.from(this.images.subarray(this.P * k, this.P * (k + 1))); }

  // a shipped digit is known by its place in the sample; people by its test-set number
  nameOf(k) { return t("offline.name", { i: this.indices[k], k: k + 1, n: num(this.labels.length) }); }

  evaluate(knockout = {}) {
    const key = JSON.stringify(knockout);
    if (!this.cache.has(key)) {
      const r = this.net.kind === "cnn" ? this.convAccuracy(knockout)
        : accuracy(this.net, this.images, this.labels, knockout);
      this.cache.set(key, r);
    }
    return this.cache.get(key);
  }

  // a convolutional network read on every shipped digit, its channels knocked out
  convAccuracy(knockout) {
    const x = new Float32Array(this.P), predictions = [];
    let right = 0;
    this.labels.forEach((y, k) => {
      for (let i = 0; i < this.P; i++) x[i] = this.images[this.P * k + i] / 255;
      const p = this.net.trace(x, { knockout }).prediction;
      predictions.push(p);
      if (p === y) right++;
    });
    return { accuracy: right / this.labels.length, predictions };
  }

  // Every layer's values for every sample digit (for a neuron's top digits), computed once.
  layerValues(layer) {
    if (!this.values) {
      const P = this.P, x = new Float32Array(P);
      this.values = this.labels.map((_, k) => {
        for (let i = 0; i < P; i++) x[i] = this.images[P * k + i] / 255;
        const t = this.net.trace(x);
        return { acts: t.activations, confidence: t.probabilities[t.prediction] };
      });
    }
    return this.values.map((v) => v.acts[layer]);
  }

  neuron({ layer, neuron, knockout = {} }) {
    const net = this.net, nLayers = net.nLayers, hidden = layer < nLayers - 1;
    const w = neuronWeights(net, layer, neuron);
    const values = this.layerValues(layer).map((a) => a[neuron]);
    const cut = activeAbove(net.activations[layer], net.sizes[layer + 1]);
    const order = values.map((v, k) => k).sort((a, b) => values[b] - values[a] || a - b).slice(0, 8);
    const d = {
      layer, neuron, n_layers: nLayers, kind: hidden ? "hidden" : "output",
      population: t("offline.population", { n: num(this.labels.length) }),
      activation: net.activations[layer], bias: w.bias, incoming: w.incoming,
      incoming_shape: w.incoming_shape, composed: w.composed, grid: gridShape(net.sizes[layer + 1]),
      outgoing: null, test_mean: values.reduce((s, v) => s + v, 0) / values.length,
      test_active: values.filter((v) => v > cut).length / values.length,
      top_test: order.map((k) => ({ index: k, label: this.labels[k], value: values[k], image: this.image(k),
                                    name: this.nameOf(k) })),
    };
    if (hidden) {
      const off = { ...knockout, [layer]: [...new Set([...(knockout[layer] || []), neuron])] };
      d.knockout = { accuracy_with: this.evaluate().accuracy,
                     accuracy_without: this.evaluate(off).accuracy, scope: this.scope };
    }
    return d;
  }

  confusion() {
    const C = this.net.sizes.at(-1), m = Array.from({ length: C }, () => new Array(C).fill(0));
    const { predictions, accuracy: acc } = this.evaluate();
    this.labels.forEach((y, k) => { m[y][predictions[k]]++; });
    return { run: this.name, accuracy: acc, confusion_matrix: m, n: this.labels.length, scope: this.scope };
  }

  slice(q) {
    const { predictions } = this.evaluate();
    this.layerValues(0);
    let idx = this.labels.map((_, k) => k);
    if (q.get("label") !== null) idx = idx.filter((k) => this.labels[k] === +q.get("label"));
    if (q.get("predicted") !== null) idx = idx.filter((k) => predictions[k] === +q.get("predicted"));
    const wrong = q.get("misclassified") === "true";
    if (wrong) idx = idx.filter((k) => predictions[k] !== this.labels[k]);
    if (wrong || q.get("predicted") !== null) {
      idx.sort((a, b) => this.values[b].confidence - this.values[a].confidence || a - b);
    }
    const offset = +(q.get("offset") || 0), limit = +(q.get("limit") || 60);
    return { run: this.name, total: idx.length, offset, digits: idx.slice(offset, offset + limit).map((k) => ({
      index: k, name: this.nameOf(k), label: this.labels[k], prediction: predictions[k],
      confidence: this.values[k].confidence, image: this.image(k) })) };
  }

  /** @param {string} path @param {any} [body] */
  answer(path, body = {}) {
    const [route, query] = path.split("?"), q = new URLSearchParams(query || "");
    if (route === "api/info") {
      return { version: this.summary.version, training: false, default_run: this.name,
               runs: [this.name], presets: [], limits: {} };
    }
    if (route === "api/runs") return { default: this.name, runs: [this.summary] };
    if (route.endsWith("/export/json") || route.endsWith("/network")) return { document: this.doc };
    if (route.endsWith("/means")) {  // the whole test set's, carried in the page (the circuit)
      if (this.net.nLayers < 2) throw new EngineError(t("why.noHidden"));
      if (this.means.length !== this.net.nLayers - 1) throw new EngineError("this page carries no hidden means");
      return { run: this.name, means: this.means };
    }
    if (route === "api/neuron") return this.neuron(body);
    if (route === "api/ablate") {
      const n = Object.values(body.knockout || {}).reduce((s, l) => s + l.length, 0);
      return { run: this.name, knockout: body.knockout, accuracy: this.evaluate().accuracy,
               accuracy_without: this.evaluate(body.knockout).accuracy,
               n_test: this.labels.length, knocked_out: n, scope: this.scope };
    }
    if (route === "api/confusion") return this.confusion();
    if (route === "api/test") return this.slice(q);
    if (route === "api/predict" && body.test_index !== undefined) {
      const k = body.test_index;
      if (!(k >= 0 && k < this.labels.length)) throw new EngineError(`no sample digit #${k}`);
      return { input: Float32Array.from(this.image(k), (v) => v / 255),
               preprocessing: { label: this.labels[k] } };
    }
    throw new EngineError(`${route} needs the digitlens server; this page works without one`);
  }
}

function boot() {
  let offline;
  try {
    offline = new Offline(JSON.parse(document.getElementById("digitlens-offline").textContent));
  } catch (err) {
    const msg = t("offline.cannot", { reason: err.message });
    document.getElementById("confidence").textContent = msg;
    document.getElementById("prediction").textContent = "!";
    answerLocally(async () => ({ ok: false, error: msg }));
    window.digitlens.problem = msg;
    window.digitlens.ready = true;
    return;
  }
  answerLocally(async (path, body) => {
    try {
      return { ok: true, ...offline.answer(path, body) };
    } catch (err) {
      return { ok: false, error: err.message };
    }
  });
  start();
}

boot();
