// Talks to the server: every answer is {"ok": true, ...} or {"ok": false, "error": "..."},
// as JSON or, when the request asked for format "packed", in the packed form (packed.js).

import { PACKED_TYPE, unpack } from "./packed.js";
import { t } from "./i18n.js";

export class ApiError extends Error {}

// The single-file explorer has no server: it answers the same paths itself (offline.js).
let local = null;
export function answerLocally(handler) { local = handler; }
export const servedLocally = () => local !== null;

export async function api(path, body, signal) {
  if (local) {
    const data = await local(path, body);
    if (!data.ok) throw new ApiError(data.error);
    return data;
  }
  const init = body === undefined ? { signal } : {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify(body), signal,
  };
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(t("api.down"));
  }
  let data;
  try {
    const packed = (res.headers.get("content-type") || "").startsWith(PACKED_TYPE);
    data = packed ? unpack(await res.arrayBuffer()) : await res.json();
  } catch {
    throw new ApiError(t("api.odd", { status: res.status }));
  }
  if (!data.ok) throw new ApiError(data.error || `HTTP ${res.status}`);
  return data;
}

let toastTimer = 0;
export function toast(message) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 6000);
}

async function localDocument(path) {
  const data = await local(path);
  if (!data.ok) throw new ApiError(data.error);
  return data.document;
}

// A packed document (a convolutional network, api/runs/NAME/network), not an envelope;
// errors come as one, in JSON.
export async function fetchPacked(path) {
  if (local) return localDocument(path);
  let res;
  try {
    res = await fetch(path);
  } catch {
    throw new ApiError(t("api.down"));
  }
  if ((res.headers.get("content-type") || "").startsWith(PACKED_TYPE)) return unpack(await res.arrayBuffer());
  let data;
  try { data = await res.json(); } catch { throw new ApiError(t("api.odd", { status: res.status })); }
  throw new ApiError(data?.error || `HTTP ${res.status}`);
}

// A plain JSON document (a model's export), not an envelope; errors still come as one.
export async function fetchJSON(path) {
  if (local) return localDocument(path);
  let res, data;
  try {
    res = await fetch(path);
  } catch {
    throw new ApiError(t("api.down"));
  }
  try {
    data = await res.json();
  } catch {
    throw new ApiError(t("api.notJson", { path, status: res.status }));
  }
  if (data && data.ok === false) throw new ApiError(data.error);
  return data;
}
