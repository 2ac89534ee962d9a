// Runs the page engine's gradients and steps (static/js/gradient.js through engine.js) in Node
// for tests/web/test_gradient.py and benchmarks/bench_gradient.py.
// node gradient_runner.mjs ENGINE_JS JOB_JSON OUT_JSON OUT_BIN
// job: {network, inputs (base64 float32, n × sizes[0]), labels (n), steps?: [{k, label, lr,
// optimizer, times}]}. OUT_BIN: float32, per example its gradient (every layer's weights in
// the JSON export's neurons × inputs layout, then every layer's biases), then per step the
// stepped network's parameters in the same layout. OUT_JSON: losses, step losses, or error.
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [enginePath, jobPath, outPath, binPath] = process.argv.slice(2);
const E = await import(pathToFileURL(enginePath).href);
const job = JSON.parse(readFileSync(jobPath, "utf8"));
const floats = (s) => { const b = Buffer.from(s, "base64"); return new Float32Array(b.buffer, b.byteOffset, b.length / 4); };

// the engine's (n_in × n_out) weights as the export's (n_out × n_in)
function exportLayout(net) {
  const parts = net.weights.map((w, l) => {
    const nIn = net.sizes[l], nOut = net.sizes[l + 1], t = new Float32Array(w.length);
    for (let i = 0; i < nIn; i++) for (let j = 0; j < nOut; j++) t[j * nIn + i] = w[i * nOut + j];
    return t;
  });
  return [...parts, ...net.biases];
}

const out = { losses: [], steps: [] }, chunks = [];
try {
  const net = E.loadNetwork(JSON.parse(readFileSync(job.network, "utf8")));
  const P = net.sizes[0], x = floats(job.inputs);
  job.labels.forEach((label, k) => {
    const g = net.gradients(x.subarray(k * P, (k + 1) * P), label);
    out.losses.push(g.loss);
    chunks.push(...g.weights, ...g.biases);
  });
  const before = exportLayout(net);
  for (const s of job.steps || []) {
    let current = net, state = null, first = null, last = null;
    for (let t = 0; t < s.times; t++) {
      const r = current.step(x.subarray(s.k * P, (s.k + 1) * P), s.label, { lr: s.lr, optimizer: s.optimizer, state });
      first ??= r.loss_before; last = r.loss_after; current = r.network; state = r.state;
    }
    out.steps.push({ loss_before: first, loss_after: last });
    chunks.push(...exportLayout(current));
  }
  // stepping returns new networks: the one loaded keeps every parameter bit for bit
  out.original_untouched = exportLayout(net).every((a, i) => a.every((v, j) => Object.is(v, before[i][j])));
  if (job.bad) {  // [label, lr (text: "NaN" too), optimizer, blank?]: each refused with a sentence
    out.bad = job.bad.map(([label, lr, optimizer, blank]) => {
      try {
        net.step(blank ? new Float32Array(P) : x.subarray(0, P), label, { lr: Number(lr), optimizer });
        return null;
      } catch (err) { return `${err.constructor.name}: ${err.message}`; }
    });
  }
} catch (err) {
  out.error = `${err.constructor.name}: ${err.message}`;
}
const total = chunks.reduce((n, c) => n + c.length, 0), bin = new Float32Array(total);
let at = 0;
for (const c of chunks) { bin.set(c, at); at += c.length; }
writeFileSync(binPath, Buffer.from(bin.buffer));
writeFileSync(outPath, JSON.stringify(out));
