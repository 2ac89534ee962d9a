// The test-set browser: a confusion matrix (click a cell), filters by class or "misclassified",
// and a gallery of digits; clicking a digit loads it into the explorer.

import { api, toast } from "./api.js";
import { paintDigit } from "./colors.js";
import { esc } from "./escape.js";
import { asButton } from "./keyboard.js";
import { input } from "./state.js";
import { num, pct, t } from "./i18n.js";

export class TestBrowser {
  constructor(getRun, onLoad, getNames = () => null) {
    this.getRun = getRun; this.onLoad = onLoad; this.getNames = getNames; this.query = {}; this.offset = 0;
    this.filters = document.getElementById("filters");
    this.gallery = document.getElementById("gallery");
    this.more = document.getElementById("more");
    this.setClasses(Array.from({ length: 10 }, (_, c) => String(c)));
    this.filters.addEventListener("click", (e) => {
      const f = /** @type {HTMLElement} */ (e.target).dataset?.filter;
      if (f === undefined) return;
      this.show(f === "all" ? {} : f === "misclassified" ? { misclassified: "true" } : { label: f });
    });
    this.more.addEventListener("click", () => this.load(true));
  }

  // One filter button per class, named as the model names them.
  setClasses(names) {
    if (this.names && this.names.join("\n") === names.join("\n")) return;
    this.names = names;
    for (const b of /** @type {HTMLElement[]} */ ([...this.filters.children])) if (/^\d+$/.test(b.dataset.filter ?? "")) b.remove();
    names.forEach((name, c) => {
      const b = document.createElement("button");
      b.dataset.filter = String(c); b.textContent = name;
      b.dataset.testid = `filter-${c}`;
      this.filters.insertBefore(b, this.filters.lastElementChild);
    });
  }

  name(c) { return this.names?.[c] ?? String(c); }

  // "digits" for the ten digits, "images" for classes with other names (catalogue keys' ends)
  get things() { return !this.names || this.names.every((n) => /^\d$/.test(n)) ? "digits" : "images"; }

  async open() {
    const names = this.getNames();
    if (names) this.setClasses(names);
    try {
      const cm = await api(`api/confusion?run=${encodeURIComponent(this.getRun())}`);
      this.renderConfusion(cm);
      if (!this.gallery.children.length) await this.show({ misclassified: "true" });
    } catch (err) { toast(err.message); }
  }

  renderConfusion(cm) {
    const m = cm.confusion_matrix;
    let peakOff = 1;
    m.forEach((row, i) => row.forEach((v, j) => { if (i !== j && v > peakOff) peakOff = v; }));
    const rowsum = m.map((r) => r.reduce((a, b) => a + b, 0));
    const nm = (c) => esc(this.name(c));
    let html = `<table class="cm"><tr><th></th>${m.map((_, j) => `<th>${nm(j)}</th>`).join("")}</tr>`;
    m.forEach((row, i) => {
      html += `<tr><th>${nm(i)}</th>` + row.map((v, j) => {
        const bg = i === j ? `rgba(var(--teal-rgb), ${0.15 + 0.7 * v / Math.max(1, rowsum[i])})`
          : v ? `rgba(var(--wrong-rgb), ${0.1 + 0.6 * v / peakOff})` : "var(--panel)";  // colors.css
        return `<td tabindex="0" role="button" data-true="${i}" data-pred="${j}" data-bg="${bg}" data-testid="cm-${i}-${j}" title="${esc(t("test.cellTitle", { truth: this.name(i), pred: this.name(j), n: num(v) }))}">${v || ""}</td>`;
      }).join("") + "</tr>";
    });
    const el = document.getElementById("confusion");
    el.innerHTML = html + "</table>";
    el.querySelectorAll("td").forEach((td) => {
      td.style.background = td.dataset.bg;  // CSSOM, allowed by the page's CSP
      td.addEventListener("click", () => this.show({ label: td.dataset.true, predicted: td.dataset.pred }));
      td.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); td.click(); } });
    });
    document.getElementById("test-acc").textContent =
      (cm.scope ? `${cm.scope[0].toUpperCase()}${cm.scope.slice(1)}: ${pct(cm.accuracy, 2)}. `
        : t(`test.accuracy.${this.things}`, { p: pct(cm.accuracy, 2), n: num(cm.n) })) +
      t(`test.offDiagonal.${this.things}`);
  }

  async show(query) {
    this.query = query; this.offset = 0;
    for (const b of /** @type {HTMLCollectionOf<HTMLElement>} */ (this.filters.children)) {
      const f = b.dataset.filter;
      b.classList.toggle("on", (f === "all" && !Object.keys(query).length) ||
        (f === "misclassified" && query.misclassified && !query.label) ||
        (f === query.label && !query.predicted));
    }
    await this.load(false);
  }

  async load(append) {
    const q = new URLSearchParams({ run: this.getRun(), ...this.query, offset: String(this.offset), limit: "60" });
    const ticket = (this.ticket = (this.ticket || 0) + 1);  // the newest question wins
    try {
      const d = await api(`api/test?${q}`);
      if (ticket !== this.ticket) return;  // a later click asked for other digits meanwhile
      if (!append) this.gallery.innerHTML = "";
      for (const d1 of d.digits) {
        const f = document.createElement("figure"), c = document.createElement("canvas");
        paintDigit(c, d1.image, input.shape);
        c.dataset.index = d1.index;
        c.addEventListener("click", () => this.onLoad(d1.index, d1.image, d1.label, d1.name));
        asButton(c, t(`test.load.${this.things}`, { i: d1.index, label: this.name(d1.label) }) +
          (d1.label === d1.prediction ? "" : t("test.readAs", { name: this.name(d1.prediction) })), () => c.click());
        f.appendChild(c);
        f.classList.toggle("wrong", d1.label !== d1.prediction);
        f.append(d1.label === d1.prediction ? this.name(d1.label) : `${this.name(d1.label)}→${this.name(d1.prediction)}`);
        this.gallery.appendChild(f);
      }
      this.offset += d.digits.length;
      this.more.hidden = this.offset >= d.total;
      const q2 = this.query;
      const what = q2.predicted !== undefined ? t("test.pair", { truth: this.name(+q2.label), pred: this.name(+q2.predicted) })
        : q2.label !== undefined ? t("test.class", { name: this.name(+q2.label) })
          : q2.misclassified ? t("test.wrongFirst") : t("test.all");
      document.getElementById("gallery-title").textContent = t(`test.gallery.${this.things}`, { n: num(d.total), what });
    } catch (err) { toast(err.message); }
  }
}
