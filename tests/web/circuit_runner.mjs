// Runs the page's circuit (static/js/circuit.js through engine.js) in Node for
// tests/web/test_circuit.py and benchmarks/bench_circuits.py.
// node circuit_runner.mjs ENGINE_JS JOB_JSON OUT_JSON
// job: {network, inputs (base64 float32, n × sizes[0]), means (per hidden layer, numbers),
// asks: [{k, target?, contrast?, max_nodes?}], repeat?: times each ask is computed again (for
// timing)}. OUT_JSON: {circuits: [the answer, effects and direct as plain lists, ms], error?}.
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { performance } from "node:perf_hooks";

const [enginePath, jobPath, outPath] = process.argv.slice(2);
const E = await import(pathToFileURL(enginePath).href);
const job = JSON.parse(readFileSync(jobPath, "utf8"));
const floats = (s) => { const b = Buffer.from(s, "base64"); return new Float32Array(b.buffer, b.byteOffset, b.length / 4); };

const out = { circuits: [] };
try {
  const net = E.loadNetwork(JSON.parse(readFileSync(job.network, "utf8")));
  const P = net.sizes[0], x = floats(job.inputs);
  const means = job.means.map((m) => Float64Array.from(m));
  for (const ask of job.asks) {
    const pixels = x.subarray(ask.k * P, (ask.k + 1) * P);
    const opts = { target: ask.target ?? undefined, contrast: ask.contrast ?? undefined,
                   maxNodes: ask.max_nodes ?? undefined };
    try {
      let c = null;
      const ms = [];
      for (let r = 0; r < (job.repeat || 1); r++) {
        const t0 = performance.now();
        c = E.circuit(net, pixels, means, opts);
        ms.push(performance.now() - t0);
      }
      out.circuits.push({ ...c, effects: c.effects.map((e) => Array.from(e)), direct: Array.from(c.direct), ms });
    } catch (err) {
      out.circuits.push({ error: `${err.constructor.name}: ${err.message}` });
    }
  }
} catch (err) {
  out.error = `${err.constructor.name}: ${err.message}`;
}
writeFileSync(outPath, JSON.stringify(out));
