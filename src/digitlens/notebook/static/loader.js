// Imports the page's own modules (web/static/js, inlined by digitlens.notebook.modules) from
// Blob URLs, in order, rewriting each `from "./name.js"` to the Blob URL of that module.
const SOURCES = __DIGITLENS_MODULES__;

async function loadModules() {
  const urls = {}, mods = {};
  for (const [name, src] of Object.entries(SOURCES)) {
    const code = src.replace(/from\s+["']\.\/([\w-]+)\.js["']/g,
      (m, dep) => (urls[dep] ? `from "${urls[dep]}"` : m));
    urls[name] = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
    mods[name] = await import(/* webpackIgnore: true */ urls[name]);
  }
  return mods;
}

function h(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
}
