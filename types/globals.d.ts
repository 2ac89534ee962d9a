// What the pages add to the platform's types.
interface Window {
  digitlens: any;   // the explorer's state for the tests and benchmarks (main.js, offline.js)
  classroom: any;   // the student's and the teacher's page state, read by the tests
}
// an array of packed.js (and the engine's answers) carries its shape: [rows, cols]
interface Float32Array<TArrayBuffer extends ArrayBufferLike = ArrayBufferLike> {
  shape?: number[];
}
