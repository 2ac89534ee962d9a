// The training tab: start a preset from the page and follow it live over server-sent events:
// test accuracy per epoch and a mosaic of first-layer weights (red +, blue −). Each preset runs
// with its own epochs by default, up to the server's cap (info.limits.train_epochs).

import { api, toast } from "./api.js";
import { accuracyChart } from "./chart.js";
import { paint, uiColor } from "./colors.js";
import { gridShape } from "./engine.js";
import { layerName } from "./numbering.js";
import { fillCode, num, pct, t } from "./i18n.js";

/** @type {(id: string) => any} the tab's elements by id (form, canvases, buttons alike) */
const $ = (id) => document.getElementById(id);

export class Trainer {
  constructor(info, onRunReady) {
    this.onRunReady = onRunReady;
    this.form = $("train");
    this.status = $("train-status");
    this.stopBtn = $("train-stop");
    this.history = []; this.job = null; this.source = null;
    const preset = $("preset");
    for (const p of info.presets) preset.add(new Option(`${p.name} (${p.label ?? p.layers.join("-")})`, p.name));
    preset.value = "s1-single-layer";
    const cap = info.limits?.train_epochs || 250;
    this.form.elements.epochs.max = String(cap);
    const describe = () => {
      const p = info.presets.find((x) => x.name === preset.value);
      $("preset-summary").textContent = p.summary;
      this.form.elements.epochs.value = String(Math.min(p.config?.epochs || 5, cap));
      this.form.elements.name.value = `${p.name}-${new Date().toISOString().slice(5, 16).replace(/[-:T]/g, "")}`;
    };
    preset.addEventListener("change", describe); describe();
    if (!info.training) {
      $("train-off").hidden = false;
      for (const el of this.form.elements) el.disabled = true;
    }
    this.form.addEventListener("submit", (e) => { e.preventDefault(); this.start(); });
    this.stopBtn.addEventListener("click", () => this.stop());
    // keep the chart's own aspect (a stretching flex row squashed its text) and say how many
    // neurons the mosaic shows
    const chart = $("train-chart");
    Object.assign(chart.style, { alignSelf: "flex-start", maxWidth: "100%", height: "auto" });
    const mosaic = $("train-mosaic");
    this.mosaicNote = document.createElement("p");
    this.mosaicNote.className = "explain";
    this.mosaicNote.dataset.testid = "train-mosaic-note";
    mosaic.insertAdjacentElement("afterend", this.mosaicNote);
    this.chart();
  }

  async start() {
    const f = this.form.elements;
    try {
      const d = await api("api/train", { preset: f.preset.value, epochs: +f.epochs.value,
                                          name: f.name.value, dataset: f.dataset.value });
      this.job = d.job; this.history = []; this.chart(); this.neurons({});
      this.status.textContent = t("train.training", { run: d.job.run });
      this.stopBtn.disabled = false;
      this.follow();
    } catch (err) { toast(err.message); }
  }

  async stop() {
    if (this.job) await api(`api/train/${this.job.id}/stop`, {}).catch((e) => toast(e.message));
  }

  follow() {
    this.source?.close();
    const src = new EventSource(`api/train/${this.job.id}/events`);
    this.source = src;
    src.addEventListener("start", (e) => {
      const d = JSON.parse(e.data);
      this.epochs = d.epochs;
      this.status.textContent = t("train.started", { run: d.run, layers: d.label ?? d.layers.join("-"), n: num(d.n_train), dataset: d.dataset });
    });
    src.addEventListener("epoch", (e) => {
      const d = JSON.parse(e.data);
      this.history.push(d.row); this.chart(); this.neurons(d.row);
      if (d.mosaic) this.mosaic(d.mosaic);  // the server keeps only the newest epoch's mosaic
      this.status.textContent = t("train.epoch", { k: d.row.epoch, n: this.epochs, p: pct(d.row.test_accuracy, 2),
                                                   s: num(d.row.seconds, 1) });
      if (d.row.epoch === 1) this.onRunReady(this.job.run, false);
    });
    const finish = (msg) => { src.close(); this.stopBtn.disabled = true; fillCode(this.status, `${this.status.textContent} · ${msg}`); };
    src.addEventListener("done", async () => {  // say "in the picker" once it is there
      src.close();
      try { await this.onRunReady(this.job.run, true); } catch (err) { toast(err.message); }
      finish(t("train.done"));
    });
    // the run's own name in the command that resumes it; its folder is the server's runs folder
    src.addEventListener("stopped", () => finish(t("train.stopped", { run: this.job.run })));
    src.addEventListener("error", (/** @type {MessageEvent} */ e) => {
      if (e.data) { finish(t("train.failed", { error: JSON.parse(e.data).error })); }
    });
  }

  chart() {
    accuracyChart($("train-chart"), this.history.map((h) => ({ epoch: h.epoch, accuracy: h.test_accuracy })),
                  Math.max(this.epochs || 1, this.history.length, 1));
  }

  // The neuron monitor's counts for this epoch (dead, dim, near-duplicate per hidden layer).
  neurons(row) {
    const el = $("train-neurons");
    if (!row.neurons || !row.neurons.length) { el.textContent = ""; return; }
    el.textContent = t("train.monitor", { k: row.epoch, n: num(1000) }) + row.neurons.map((n) =>
      t("train.monitorLayer", { layer: layerName(n.layer), dead: num(n.dead), dim: num(n.dim), dup: num(n.duplicates),
                                n: num(n.n) })).join(" · ");
  }

  mosaic(m) {
    const [h, w] = m.shape || [28, 28], [rows, cols] = gridShape(m.n);
    const canvas = $("train-mosaic");
    canvas.width = cols * (w + 1) - 1; canvas.height = rows * (h + 1) - 1;
    const ctx = canvas.getContext("2d"), tile = document.createElement("canvas");
    ctx.fillStyle = uiColor("card"); ctx.fillRect(0, 0, canvas.width, canvas.height);
    m.images.forEach((img, k) => {
      paint(tile, img, w, h, "diverging", 1);
      ctx.drawImage(tile, (k % cols) * (w + 1), Math.floor(k / cols) * (h + 1));
    });
    const total = m.total || m.n;
    this.mosaicNote.textContent = m.kind === "kernels" ? t("train.kernelsAll", { n: num(m.n) })
      : m.n < total ? t("train.mosaicSome", { k: num(m.n), n: num(total) })
        : t("train.mosaicAll", { n: num(m.n) });
  }
}
