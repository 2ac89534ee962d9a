// The notebook widgets' scripts (notebook/static/*.js) are joined after the page modules they
// use, as `const PAGE = { name: module, … }` (notebook/modules.py); h comes from helpers.js.
declare const PAGE: {
  chart: typeof import("../src/digitlens/web/static/js/chart.js");
  colors: typeof import("../src/digitlens/web/static/js/colors.js");
  diagram: typeof import("../src/digitlens/web/static/js/diagram.js");
  draw: typeof import("../src/digitlens/web/static/js/draw.js");
  engine: typeof import("../src/digitlens/web/static/js/engine.js");
  numbering: typeof import("../src/digitlens/web/static/js/numbering.js");
  [name: string]: any;
};
