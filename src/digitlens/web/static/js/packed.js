// Reads the server's packed answers (digitlens.web.encode): a JSON head whose arrays point
// into float32 data, so the numbers arrive as typed arrays without JSON text in between.
// Layout: "DLP1", uint32 n (little-endian), n bytes of JSON, float32 data (little-endian,
// starting at a multiple of 4 bytes).

export const PACKED_TYPE = "application/vnd.digitlens.packed";
const decoder = new TextDecoder();

export function unpack(buffer) {
  const bytes = new Uint8Array(buffer);
  if (bytes.length < 8 || decoder.decode(bytes.subarray(0, 4)) !== "DLP1") {
    throw new Error("not a packed digitlens answer");
  }
  const n = new DataView(buffer).getUint32(4, true);
  const head = JSON.parse(decoder.decode(bytes.subarray(8, 8 + n)));
  const data = new Float32Array(buffer, 8 + n, (buffer.byteLength - 8 - n) / 4);
  const walk = (v) => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== "object") return v;
    if (v.$f32) {
      const [start, count] = v.$f32, a = data.subarray(start, start + count);
      a.shape = v.shape;
      return a;
    }
    for (const k of Object.keys(v)) v[k] = walk(v[k]);
    return v;
  };
  return walk(head);
}

// The rows of a 2-D array (a typed array with .shape) as views, without copying.
export function rows(a) {
  const [n, m] = a.shape;
  return Array.from({ length: n }, (_, i) => a.subarray(i * m, (i + 1) * m));
}
