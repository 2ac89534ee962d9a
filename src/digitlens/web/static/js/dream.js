// The neuron inspector's dream: the input this neuron likes most (POST /api/dream: gradient
// ascent from the mean training digit on the server), shown beside its incoming and composed
// weights. The composed weights are a linear approximation; the dream is the real optimum.

import { api, servedLocally } from "./api.js";
import { paint } from "./colors.js";
import { input } from "./state.js";

export async function showDream(el, run, layer, neuron) {
  const imgs = el.querySelector(".insp-imgs");
  if (!imgs || !run || servedLocally()) return;  // dreams are computed on the server
  const fig = document.createElement("figure");
  fig.dataset.testid = "dream";
  const [H, W] = input.shape;
  fig.innerHTML = `<canvas width="${W}" height="${H}"></canvas>dream: its real optimum<br><small>dreaming…</small>`;
  imgs.appendChild(fig);
  try {
    const d = await api("api/dream", { run: run.name, layer, neuron });
    if (!fig.isConnected) return;  // another neuron was picked meanwhile
    const lo = Math.min(...d.image), hi = Math.max(...d.image);
    paint(fig.querySelector("canvas"), d.image.map((v) => (v - lo) / ((hi - lo) || 1)), W, H);
    const small = fig.querySelector("small");
    small.dataset.testid = "dream-value";
    const what = d.kind === "output" ? "score z" : "value";
    small.textContent = `${what} ${d.activation.toFixed(2)}; best training digit ${d.max_train_activation.toFixed(2)}`;
    fig.title = "The input this neuron likes most, found by gradient ascent from the mean " +
      "training digit (pixels kept in 0..1, smoothed). The composed weights are a linear " +
      "approximation of what it wants; this is the network's real optimum.";
  } catch (err) {
    if (fig.isConnected) fig.querySelector("small").textContent = err.message;
  }
}
