// dl.TrainingMonitor: the test-accuracy curve so far and the latest first-layer weight mosaic.

function render({ model, el }) {
  const W = 360, H = 160, L = 36;
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
    const c = curve.getContext("2d");
    c.clearRect(0, 0, W, H);
    const ui = (name) => PAGE.colors.uiColor(name, root, "#000");  // colors.css, on the widget
    c.font = "10px system-ui"; c.fillStyle = ui("muted"); c.strokeStyle = ui("grid");
    for (const p of [0, 0.5, 1]) {
      const y = 8 + (1 - p) * (H - 28);
      c.beginPath(); c.moveTo(L, y); c.lineTo(W - 4, y); c.stroke();
      c.fillText(`${p * 100}%`, 2, y + 3);
    }
    c.fillText("epoch", W / 2, H - 4);
    c.fillText("0", L, H - 4);
    c.textAlign = "right"; c.fillText(String(total), W - 6, H - 4); c.textAlign = "left";
    c.strokeStyle = ui("teal"); c.lineWidth = 2; c.beginPath();
    ep.forEach((e, i) => {
      const x = L + (e / total) * (W - L - 6), y = 8 + (1 - acc[i]) * (H - 28);
      if (i) c.lineTo(x, y); else c.moveTo(x, y);
    });
    c.stroke();
    if (ep.length) {
      status.textContent = `epoch ${ep[ep.length - 1]} of ${total}: test accuracy ${(100 * acc[acc.length - 1]).toFixed(2)}%`;
    }
    if (model.get("mosaic")) { img.src = model.get("mosaic"); img.style.display = ""; }
  }
  for (const k of ["epochs", "mosaic", "total"]) model.on(`change:${k}`, draw);
  draw();
}

export default { render };
