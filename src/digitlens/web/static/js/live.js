// The live drawing loop's channel: a WebSocket to api/live that takes the same requests as
// POST api/predict and answers each with one message (packed, or JSON for an error), without
// a request's set-up per move (benchmarks/bench_browser.py compares it with fetch).
// The socket is only used while open; if it cannot open or closes, request() rejects with
// Closed and the caller sends the same request by fetch. It reconnects a few times, backing off.

import { ApiError } from "./api.js";
import { unpack } from "./packed.js";
import { t } from "./i18n.js";

export class Closed extends Error {}

const RETRIES = 5;

export class LiveChannel {
  constructor(path) {
    const url = new URL(path, location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    this.url = url.href;
    this.socket = null;   // set once open, cleared on close
    this.pending = null;  // { resolve, reject } of the one request in flight
    this.failures = 0;
    this.connect();
  }

  get open() { return this.socket !== null && this.socket.readyState === WebSocket.OPEN; }

  connect() {
    let ws;
    try { ws = new WebSocket(this.url); } catch { this.retry(); return; }
    ws.binaryType = "arraybuffer";
    ws.onopen = () => { this.failures = 0; this.socket = ws; };
    ws.onmessage = (e) => this.answer(e.data);
    ws.onclose = () => {
      if (this.socket === ws) this.socket = null;
      this.settle(null, new Closed(t("live.closed")));
      this.retry();
    };
  }

  retry() {
    if (++this.failures <= RETRIES) setTimeout(() => this.connect(), 500 * 2 ** this.failures);
  }

  // One request at a time (the page never has two in flight): resolves with the answer,
  // rejects with ApiError for the server's {"ok": false} or Closed when the socket is gone.
  request(body) {
    if (!this.open || this.pending) return Promise.reject(new Closed(t("live.notOpen")));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.socket.send(JSON.stringify(body));
    });
  }

  answer(data) {
    let res;
    try {
      res = typeof data === "string" ? JSON.parse(data) : unpack(data);
    } catch {
      this.settle(null, new ApiError(t("live.odd")));
      return;
    }
    if (!res.ok) this.settle(null, new ApiError(res.error || t("live.refused")));
    else this.settle(res, null);
  }

  settle(res, err) {
    const p = this.pending;
    this.pending = null;
    if (p) { if (err) p.reject(err); else p.resolve(res); }
  }
}
