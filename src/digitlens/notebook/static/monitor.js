// dl.TrainingMonitor: the test-accuracy curve so far (the Train tab's chart, chart.js) and the
// latest first-layer weight mosaic.

function render({ model, el }) {
  const W = 360, H = 160;
  const root = h("div", { class: "dl-explorer" });
  const status = h("div", { class: "dl-title", "data-testid": "dl-monitor-status", text: "waiting for the first epoch" });
  const curve = h("canvas", { width: W, height: H, "data-testid": "dl-monitor-curve" });
  const img = h("img", { class: "dl-mosaic", alt: "first-layer weights" });
  img.style.maxWidth = "420px";
  img.style.display = "none";  // until the first epoch's mosaic
  root.append(h("div", { class: "dl-col" }, status, curve), h("div", { class: "dl-col" },
    h("div", { class: "dl-title", text: "First-layer weights (red +, blue −)" }), img));
  el.append(root);

  function draw() {
    const ep = model.get("epochs"), acc = model.get("accuracy"), total = Math.max(model.get("total"), 1);
    PAGE.chart.accuracyChart(curve, ep.map((e, i) => ({ epoch: e, accuracy: acc[i] })), total, root);
    if (ep.length) {
      status.textContent = `epoch ${ep[ep.length - 1]} of ${total}: test accuracy ${(100 * acc[acc.length - 1]).toFixed(2)}%`;
    }
    if (model.get("mosaic")) { img.src = model.get("mosaic"); img.style.display = ""; }
  }
  for (const k of ["epochs", "mosaic", "total"]) model.on(`change:${k}`, draw);
  requestAnimationFrame(draw);  // once the widget is on the page: its colours are read there
}

export default { render };
