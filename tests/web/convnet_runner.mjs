// Runs static/js/convnet.js (through engine.js's loadNetwork) in Node for
// tests/web/test_convnet.py: reads the server's packed network and a job, writes what the
// page's engine computed (JSON, arrays as base64 float64).
// node convnet_runner.mjs STATIC_JS NETWORK_PACKED JOB_JSON OUT_JSON
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [js, networkPath, jobPath, outPath] = process.argv.slice(2);
const E = await import(pathToFileURL(`${js}/engine.js`).href);
const { unpack } = await import(pathToFileURL(`${js}/packed.js`).href);
const blob = readFileSync(networkPath);
const net = E.loadNetwork(unpack(blob.buffer.slice(blob.byteOffset, blob.byteOffset + blob.length)));
const job = JSON.parse(readFileSync(jobPath, "utf8"));
const b64 = (a) => Buffer.from(Float64Array.from(a).buffer).toString("base64");
const floats = (s) => { const b = Buffer.from(s, "base64"); return new Float32Array(b.buffer, b.byteOffset, b.length / 4); };

const x = floats(job.inputs), P = net.nInputs, out = { f64: [], f32: [], preds32: [], units: [] };
for (let n = 0; n < x.length / P; n++) {
  const pixels = x.subarray(n * P, (n + 1) * P);
  const t64 = net.trace(pixels, { float64: true, knockout: job.knockout });
  out.f64.push(t64.outputs.slice(1).map(b64));
  const t32 = net.trace(pixels, { knockout: job.knockout });
  out.f32.push(b64(t32.probabilities));
  out.preds32.push(t32.prediction);
  if (n === 0) {
    for (const [layer, channel, row, col] of job.units) {
      const u = net.unit(t64, layer, channel, row, col);
      out.units.push({ ...u, terms: u.terms.map((t) => [t.channel, t.y, t.x, t.input, t.weight ?? null]),
                       field: net.receptiveField(layer, row, col) });
    }
  }
}
writeFileSync(outPath, JSON.stringify(out));
