// The colour scheme of the signs: classic red (+) / blue (−), or colour-blind safe orange /
// purple (digitlens/palette.py checks they stay apart for every colour vision). Chosen
// with ?palette=colourblind or the page's picker, remembered on this device; the words that
// name colours in the page (elements with data-hue) follow the scheme.

import { hue, useScheme } from "./colors.js";

const KEY = "digitlens.palette";

function remembered() {
  try { return localStorage.getItem(KEY); } catch { return null; }  // a file:// page may refuse
}

function apply(name) {
  document.documentElement.dataset.palette = name;  // style.css's text colours of the signs
  for (const el of /** @type {NodeListOf<HTMLElement>} */ (document.querySelectorAll("[data-hue]"))) el.textContent = hue(el.dataset.hue);
}

// select: the picker; onChange(): redraw what is on screen
export function setupPalette(select, onChange) {
  const asked = new URLSearchParams(location.search).get("palette");
  const name = useScheme(asked || remembered() || "classic");
  apply(name);
  if (!select) return;
  select.value = name;
  select.addEventListener("change", () => {
    apply(useScheme(select.value));
    try { localStorage.setItem(KEY, select.value); } catch { /* not kept: fine */ }
    onChange();
  });
}
