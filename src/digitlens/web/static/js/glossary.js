// The field's words in plain words, a tap or a focus away: every element marked
// class="term" data-term="…" becomes a button that shows its entry from the one glossary
// (glossary-terms.js, written from digitlens/glossary.py): the plain sentence first, the precise
// wording under it. A screen reader hears the plain sentence as the button's description.

import { TERMS as EN_TERMS } from "./glossary-terms.js";
import { TERMS_DE } from "./glossary-de.js";
import { lang, t } from "./i18n.js";

const TERMS = lang === "de" ? TERMS_DE : EN_TERMS;  // the same terms, keyed by their English names

let tip = null, shown = null;

function place(button) {
  const [plain, precise] = TERMS[button.dataset.term];
  tip.replaceChildren(Object.assign(document.createElement("span"), { textContent: plain }),
                      Object.assign(document.createElement("small"), { textContent: t("gloss.precisely", { text: precise }) }));
  tip.hidden = false;
  const r = button.getBoundingClientRect(), w = Math.min(320, innerWidth - 16);
  tip.style.width = `${w}px`;
  tip.style.left = `${Math.max(8, Math.min(r.left + scrollX, innerWidth - w - 8 + scrollX))}px`;
  tip.style.top = `${r.bottom + scrollY + 6}px`;
  shown = button;
}

function hide() { if (tip) tip.hidden = true; shown = null; }

// A term as a button, for text written by a script (markTerms(parent) makes it work).
export function term(name, text = name) {
  const b = Object.assign(document.createElement("button"), { type: "button", className: "term", textContent: text });
  b.dataset.term = name;
  return b;
}

// Marks every term under `root` (the page, or a panel drawn later).
/** @param {Document | HTMLElement} [root] */
export function markTerms(root = document) {
  if (!tip) {
    tip = Object.assign(document.createElement("div"), { className: "gloss", id: "gloss", hidden: true });
    tip.setAttribute("role", "tooltip");
    tip.dataset.testid = "glossary-tip";
    document.body.appendChild(tip);
    document.addEventListener("keydown", (e) => { if (e.key === "Escape") hide(); });
    document.addEventListener("pointerdown", (e) => { if (shown && !shown.contains(e.target)) hide(); });
  }
  for (const el of /** @type {NodeListOf<HTMLElement & {wasOpen?: boolean}>} */ (root.querySelectorAll(".term[data-term]:not([data-ready])"))) {
    if (!TERMS[el.dataset.term]) continue;
    el.dataset.ready = "1";
    const said = Object.assign(document.createElement("span"), { className: "sr-only",
      id: `term-${el.dataset.term.replace(/\W+/g, "-")}`, textContent: TERMS[el.dataset.term][0] });
    el.after(said);
    el.setAttribute("aria-describedby", said.id);
    el.addEventListener("focus", () => place(el));
    el.addEventListener("blur", hide);
    el.addEventListener("mouseenter", () => place(el));
    el.addEventListener("mouseleave", () => { if (document.activeElement !== el) hide(); });
    // a click toggles; a tap focuses (and so opens) before its click, so ask what was open then
    el.addEventListener("pointerdown", () => { el.wasOpen = shown === el && !tip.hidden; });
    el.addEventListener("click", (/** @type {MouseEvent} */ e) => {
      const open = e.detail === 0 ? shown === el && !tip.hidden : el.wasOpen;
      if (open) hide(); else place(el);
    });
  }
}
