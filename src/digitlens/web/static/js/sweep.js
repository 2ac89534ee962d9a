// The Sweeps tab: the sweeps in the server's runs folder (GET api/sweeps), each a table of
// its points (grid settings, seed, final and best test accuracy) with the mean over seeds per
// setting on top. Clicking a finished point opens that run in the explorer (?run=SWEEP.POINT).
// Self-contained: main.js only shows and hides the panel like any other tab.

import { api, toast } from "./api.js";
import { fillCode, lang, num, pct as share, t } from "./i18n.js";

const pct = (v) => (v == null ? "" : share(v, 2));

function cell(row, text, tag = "td") {
  const el = document.createElement(tag);
  el.textContent = text;
  row.append(el);
  return el;
}

// Mean and spread of the finished seeds for each combination of grid settings.
function means(sweep) {
  const groups = new Map();
  for (const p of sweep.points) {
    const key = sweep.keys.map((k) => String(p.settings[k] ?? "all")).join(" · ");
    if (!groups.has(key)) groups.set(key, []);
    if (p.status === "done" && p.test_accuracy != null) groups.get(key).push(p.test_accuracy);
  }
  return [...groups].map(([key, accs]) => {
    const m = accs.reduce((a, b) => a + b, 0) / (accs.length || 1);
    const sd = accs.length > 1
      ? Math.sqrt(accs.reduce((a, b) => a + (b - m) ** 2, 0) / (accs.length - 1)) : 0;
    return { key, n: accs.length, mean: accs.length ? m : null, sd };
  });
}

export function openRun(name) {
  const q = new URLSearchParams();
  q.set("run", name);
  if (lang !== "en") q.set("lang", lang);
  location.search = q.toString();
}

function sweepCard(sweep) {
  const card = document.createElement("div");
  card.className = "card sweep-card";
  card.dataset.testid = "sweep";
  const h = document.createElement("h2");
  h.textContent = sweep.name;
  const hint = document.createElement("span");
  hint.className = "hint";
  hint.textContent = sweep.error ? ` ${sweep.error}`
    : ` ${sweep.preset} · ${sweep.grids.join(" + ")} · ${t("sweeps.points", { n: num(sweep.points.length) })}`;
  h.append(hint);
  card.append(h);
  if (sweep.error) return card;
  const top = document.createElement("div");
  top.className = "sweep-top";
  card.append(top);
  if (sweep.points.some((p) => p.status === "done")) {
    const img = document.createElement("img");
    img.src = `api/sweeps/${encodeURIComponent(sweep.name)}/chart.png`;
    img.alt = t("sweeps.chartAlt", { key: sweep.keys[0] });
    img.dataset.testid = "sweep-chart";
    img.width = 760; img.height = 420;
    top.append(img);
  }

  const summary = document.createElement("table");
  summary.className = "sweep-table sweep-means";
  const head = summary.createTHead().insertRow();
  for (const word of [sweep.keys.join(" · "), t("sweeps.seedsDone"), t("sweeps.mean"), t("sweeps.sd")]) cell(head, word, "th");
  const body = summary.createTBody();
  const best = Math.max(...means(sweep).map((g) => g.mean ?? -1));
  for (const g of means(sweep)) {
    const row = body.insertRow();
    if (g.mean === best) row.className = "best";
    cell(row, g.key); cell(row, String(g.n)); cell(row, pct(g.mean));
    cell(row, g.n > 1 ? pct(g.sd) : "—");  // one seed has no spread to show
  }
  top.append(summary);

  const table = document.createElement("table");
  table.className = "sweep-table";
  table.dataset.testid = "sweep-table";
  const th = table.createTHead().insertRow();
  for (const word of [...sweep.keys, t("sweeps.seed"), t("sweeps.status"), t("sweeps.final"), t("sweeps.best"),
                      t("sweeps.epochs"), t("sweeps.params")]) {
    cell(th, word, "th");
  }
  const tb = table.createTBody();
  for (const p of sweep.points) {
    const row = tb.insertRow();
    row.dataset.testid = "sweep-point";
    for (const k of sweep.keys) cell(row, String(p.settings[k] ?? "all"));
    cell(row, String(p.seed));
    cell(row, p.status).className = `status ${p.status}`;
    cell(row, pct(p.test_accuracy));
    cell(row, pct(p.best_test_accuracy));
    cell(row, String(p.epochs));
    cell(row, num(p.params ?? 0));
    if (p.error) row.title = p.error;
    if (p.run) {
      row.dataset.run = p.run;
      row.className = "open";
      row.tabIndex = 0;
      row.title = t("sweeps.open", { run: p.run });
      row.addEventListener("click", () => openRun(p.run));
      row.addEventListener("keydown", (e) => { if (e.key === "Enter") openRun(p.run); });
    }
  }
  const wrap = document.createElement("div");
  wrap.className = "sweep-scroll";
  wrap.append(table);
  card.append(wrap);
  return card;
}

export async function loadSweeps() {
  const panel = document.getElementById("sweeps");
  try {
    const { sweeps } = await api("api/sweeps");
    panel.replaceChildren(...sweeps.map(sweepCard));
    if (!sweeps.length) {
      const p = document.createElement("p");
      p.className = "explain";
      fillCode(p, t("sweeps.none"));
      panel.append(p);
    }
    panel.dataset.loaded = "true";
  } catch (err) {
    toast(err.message);
  }
}

document.querySelector('[data-tab="sweeps"]')?.addEventListener("click", loadSweeps);
if (new URLSearchParams(location.search).get("tab") === "sweeps") loadSweeps();
