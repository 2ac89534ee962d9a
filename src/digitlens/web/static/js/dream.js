// The neuron inspector's dream: the input this neuron likes most (POST /api/dream: gradient
// ascent from the mean training digit on the server), shown beside its incoming and composed
// weights. The composed weights are a linear approximation; the dream is the real optimum.

import { api, servedLocally } from "./api.js";
import { paint } from "./colors.js";
import { input } from "./state.js";
import { esc } from "./escape.js";
import { num, t } from "./i18n.js";

export async function showDream(el, run, layer, neuron) {
  const imgs = el.querySelector(".insp-imgs");
  if (!imgs || !run || servedLocally()) return;  // dreams are computed on the server
  const fig = document.createElement("figure");
  fig.dataset.testid = "dream";
  const [H, W] = input.shape;
  fig.innerHTML = `<canvas width="${W}" height="${H}"></canvas>${esc(t("dream.caption"))}<br><small>${esc(t("dream.wait"))}</small>`;
  imgs.appendChild(fig);
  try {
    const d = await api("api/dream", { run: run.name, layer, neuron });
    if (!fig.isConnected) return;  // another neuron was picked meanwhile
    const lo = Math.min(...d.image), hi = Math.max(...d.image);
    paint(fig.querySelector("canvas"), d.image.map((v) => (v - lo) / ((hi - lo) || 1)), W, H);
    const small = fig.querySelector("small");
    small.dataset.testid = "dream-value";
    small.textContent = t(d.kind === "output" ? "dream.score" : "dream.value",
                          { v: num(d.activation, 2), best: num(d.max_train_activation, 2) });
    fig.title = t("dream.title");
  } catch (err) {
    if (fig.isConnected) fig.querySelector("small").textContent = err.message;
  }
}
