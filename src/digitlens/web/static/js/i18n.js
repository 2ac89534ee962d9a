// The page's words in the reader's language: every sentence a learner reads comes from one
// catalogue per language (lang-en.js, lang-de.js; docs/languages.md says how to add one).
// ?lang=de chooses; otherwise the browser's first language the page speaks; else English
// (outside a page, as in the Node tests of numbering.js, always English).
// Entries are plain text with {name} placeholders; a count's entry comes in two forms,
// "key.one" and "key.other". Numbers read by people are written in the language's way.

import { EN } from "./lang-en.js";
import { DE } from "./lang-de.js";

export const CATALOGUES = { en: EN, de: DE };
export const LANGUAGE_NAMES = { en: "English", de: "Deutsch" };

/** The language for a query string and the browser's language list. */
export function chooseLang(search = globalThis.location?.search ?? "",
                           languages = globalThis.document ? navigator.languages ?? [] : []) {
  const asked = new URLSearchParams(search).get("lang");
  if (asked && CATALOGUES[asked.toLowerCase()]) return asked.toLowerCase();
  for (const l of languages) {
    const base = String(l).toLowerCase().split("-")[0];
    if (CATALOGUES[base]) return base;
  }
  return "en";
}

export const lang = chooseLang();
const words = CATALOGUES[lang];

/** The entry `key`, its {placeholders} filled from `vars` (missing in a catalogue: English). */
export function t(key, vars = {}) {
  const s = words[key] ?? EN[key] ?? key;
  let common = null;  // asked for only when an entry names one (colour words call t too)
  return s.replace(/\{(\w+)\}/g, (m, k) => {
    if (k in vars) return String(vars[k]);
    common ??= fill();
    return k in common ? String(common[k]) : m;
  });
}

// Words any entry may name without its caller giving them: {pos} and {neg}, the colours of
// the signs in the scheme in use (colors.js registers them), so prose follows the palette.
let fill = () => ({});
export function fillWith(words) { fill = words; }

/** A count's entry: "key.one" for 1, "key.other" otherwise; {n} is the count, written. */
export function tn(key, n, vars = {}) {
  return t(`${key}.${n === 1 ? "one" : "other"}`, { n: num(n), ...vars });
}

const formats = new Map();
function format(opts) {
  const k = JSON.stringify(opts);
  if (!formats.has(k)) formats.set(k, new Intl.NumberFormat(lang, opts));
  return formats.get(k);
}

/** A number for reading: `digits` decimals (fixed), or as is with grouping. */
export function num(v, digits = null) {
  if (!Number.isFinite(v)) return String(v);
  return digits === null ? format({ maximumFractionDigits: 20 }).format(v)
    : format({ minimumFractionDigits: digits, maximumFractionDigits: digits }).format(v);
}

/** A share 0…1 as a percentage with `digits` decimals (92%, 92 % in German). */
export function pct(p, digits = 0) {
  return format({ style: "percent", minimumFractionDigits: digits, maximumFractionDigits: digits }).format(p);
}

/** `significant` significant digits, fixed (0.0012, 0,50). */
export function sig(v, significant = 2) {
  if (!Number.isFinite(v)) return String(v);
  return format({ minimumSignificantDigits: significant, maximumSignificantDigits: significant }).format(v);
}

/** Fills the page's marked elements: data-i18n (text; data-i18n-vars, JSON, fills its
 * placeholders, numbers written the language's way), data-i18n-aria (aria-label),
 * data-i18n-title (title), data-i18n-alt (alt). The English stays in the HTML, for a page
 * read before its scripts run. */
export function translatePage(root = document) {
  if (root === document) document.documentElement.lang = lang;
  if (lang === "en") return;
  for (const el of /** @type {NodeListOf<HTMLElement>} */ (root.querySelectorAll("[data-i18n]"))) {
    const vars = JSON.parse(el.dataset.i18nVars || "{}");
    for (const [k, v] of Object.entries(vars)) if (typeof v === "number") vars[k] = num(v);
    el.textContent = t(el.dataset.i18n, vars);
  }
  for (const el of /** @type {NodeListOf<HTMLElement>} */ (root.querySelectorAll("[data-i18n-aria]"))) el.setAttribute("aria-label", t(el.dataset.i18nAria));
  for (const el of /** @type {NodeListOf<HTMLElement>} */ (root.querySelectorAll("[data-i18n-title]"))) el.title = t(el.dataset.i18nTitle);
  for (const el of /** @type {NodeListOf<HTMLImageElement>} */ (root.querySelectorAll("[data-i18n-alt]"))) el.alt = t(el.dataset.i18nAlt);
}

/** A <select> of the languages: choosing one reloads the page with ?lang= set. */
export function languagePicker(select) {
  select.replaceChildren(...Object.keys(CATALOGUES).map((code) =>
    new Option(LANGUAGE_NAMES[code], code, false, code === lang)));
  select.lang = lang;
  for (const o of select.options) o.lang = o.value;  // each name is read in its own language
  select.addEventListener("change", () => {
    const q = new URLSearchParams(location.search);
    q.set("lang", select.value);
    location.search = q.toString();
  });
}

/** Puts `text` in `el`, each `backticked` part as a <code> element (a command to type). */
export function fillCode(el, text) {
  el.replaceChildren(...text.split("`").map((part, i) =>
    (i % 2 ? Object.assign(document.createElement("code"), { textContent: part }) : part)));
}
