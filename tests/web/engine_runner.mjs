// Runs src/digitlens/web/static/js/engine.js in Node for tests/web/test_engine.py: reads a job
// (JSON) and writes what the engine computed (JSON, arrays as base64 float32).
// node engine_runner.mjs ENGINE_JS JOB_JSON OUT_JSON
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [enginePath, jobPath, outPath] = process.argv.slice(2);
const E = await import(pathToFileURL(enginePath).href);
const job = JSON.parse(readFileSync(jobPath, "utf8"));
const b64 = (a) => Buffer.from(Float32Array.from(a).buffer).toString("base64");
const bytes = (s) => new Uint8Array(Buffer.from(s, "base64"));
const floats = (s) => { const b = Buffer.from(s, "base64"); return new Float32Array(b.buffer, b.byteOffset, b.length / 4); };

const out = {};
try {
  if (job.sae) {  // a sparse autoencoder's features of given activations
    const s = job.sae, sae = { W_enc: floats(s.W_enc), b_enc: floats(s.b_enc), b_dec: floats(s.b_dec), k: s.k };
    const acts = floats(s.activations), n = sae.b_dec.length, values = [], active = [];
    for (let r = 0; r < acts.length / n; r++) {
      const f = E.encodeFeatures(sae, acts.subarray(r * n, (r + 1) * n));
      values.push(...f.values); active.push(f.active);
    }
    out.sae = { values: b64(values), active };
  }
  const net = job.network ? E.loadNetwork(JSON.parse(readFileSync(job.network, "utf8"))) : null;
  const knockout = job.knockout || {};
  if (job.inputs) {
    const P = net.sizes[0], x = floats(job.inputs), n = x.length / P, probs = [], preds = [];
    const ev = {}, ar = {}, flow = {};
    const want = new Set(job.evidence || []);
    for (let k = 0; k < n; k++) {
      const t = net.trace(x.subarray(k * P, (k + 1) * P), { knockout });
      probs.push(...t.probabilities); preds.push(t.prediction);
      if (want.has(k)) {
        const e = E.evidence(net, t);
        ev[k] = { method: e.method, contributions: b64(e.contributions), scores: b64(e.scores) };
        flow[k] = E.strongestConnections(net, t, 40);
      }
    }
    for (const [k, layer, neuron] of job.arithmetic || []) {
      const t = net.trace(x.subarray(k * P, (k + 1) * P), { knockout });
      ar[`${k}/${layer}/${neuron}`] = E.arithmetic(net, t, layer, neuron);
    }
    if (job.projection) {  // the hidden-space map's moving point
      const { layer, mean, components } = job.projection, pts = [];
      for (let k = 0; k < n; k++) pts.push(...E.project(net.trace(x.subarray(k * P, (k + 1) * P)).activations[layer], mean, components));
      out.projection = b64(pts);
    }
    Object.assign(out, { probabilities: b64(probs), predictions: preds, evidence: ev, arithmetic: ar, flow });
  }
  if (job.drawings) {
    out.drawings = job.drawings.map((d) => {
      const p = E.preprocess(bytes(d.gray), d.width, d.height, net.inputShape);
      const t = net.trace(p.centred);
      return { has_ink: p.has_ink, inverted: p.inverted, centred: b64(p.centred), raw28: b64(p.raw28),
               bbox: p.bbox, offset: p.offset, prediction: t.prediction };
    });
  }
} catch (err) {
  out.error = `${err.constructor.name}: ${err.message}`;
}
writeFileSync(outPath, JSON.stringify(out));
