// The drawing pad from the keyboard, for those who cannot use a mouse or a finger: the pad takes
// focus, the arrow keys move a pen (Shift for bigger steps), Space or Enter puts it down or lifts
// it, Delete or Backspace clears. A ring shows where the pen is; a second live region says
// where it is and whether it is down, in plain words.

import { t } from "./i18n.js";

const STEP = 10, BIG = 30;  // canvas pixels: 10 is one of the 28×28 pixels the network sees

export class KeyboardPen {
  // pad: the DrawPad; onClear(): what the Clear button does; status: an aria-live element
  constructor(pad, onClear, status) {
    this.pad = pad; this.onClear = onClear; this.status = status;
    this.at = [pad.canvas.width / 2, pad.canvas.height / 2];
    this.isDown = false;
    const c = pad.canvas;
    c.tabIndex = 0;
    c.setAttribute("role", "application");
    c.setAttribute("aria-roledescription", t("pen.role"));
    c.setAttribute("aria-label", t("pen.aria"));
    this.ring = document.createElement("span");
    this.ring.className = "pen-ring";
    this.ring.hidden = true;
    this.ring.setAttribute("aria-hidden", "true");
    c.insertAdjacentElement("afterend", this.ring);
    c.addEventListener("keydown", (e) => this.key(e));
    c.addEventListener("focus", () => { this.place(); this.ring.hidden = false; });
    c.addEventListener("blur", () => { this.lift(); this.ring.hidden = true; });
    c.addEventListener("pointerdown", () => { this.ring.hidden = true; });
  }

  key(e) {
    const step = e.shiftKey ? BIG : STEP;
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (moves[e.key]) {
      e.preventDefault();
      this.move(...moves[e.key]);
    } else if (e.key === " " || e.key === "Enter") {
      e.preventDefault();
      if (this.isDown) this.lift(); else this.drop();
    } else if (e.key === "Delete" || e.key === "Backspace") {
      e.preventDefault();
      this.lift();
      this.onClear();
      this.say(t("pen.cleared"));
    } else if (e.key === "Escape") {
      this.lift();
    }
  }

  move(dx, dy) {
    const c = this.pad.canvas, r = 6;
    this.at = [Math.min(c.width - r, Math.max(r, this.at[0] + dx)),
               Math.min(c.height - r, Math.max(r, this.at[1] + dy))];
    if (this.isDown) this.pad.extend([...this.at]);
    this.place();
    this.say(t(this.isDown ? "pen.atDrawing" : "pen.at", { where: this.where() }));
  }

  drop() {
    this.isDown = true;
    this.pad.begin([...this.at]);
    this.ring.classList.add("down");
    this.say(t("pen.down", { where: this.where() }));
  }

  lift() {
    if (!this.isDown) return;
    this.isDown = false;
    this.pad.up();
    this.ring.classList.remove("down");
    this.say(t("pen.up"));
  }

  // the pen's place as a person would say it: tenths across and down from the top left
  where() {
    const c = this.pad.canvas;
    const across = Math.round(10 * this.at[0] / c.width), down = Math.round(10 * this.at[1] / c.height);
    return t("pen.where", { across, down });
  }

  place() {
    const c = this.pad.canvas, k = c.clientWidth / c.width;
    this.ring.style.left = `${c.offsetLeft + this.at[0] * k}px`;
    this.ring.style.top = `${c.offsetTop + this.at[1] * k}px`;
  }

  say(text) { if (this.status) this.status.textContent = text; }
}

// A clickable picture (a test digit to load) made a control: reachable by Tab, named, and
// worked by Enter or Space as a button is.
export function asButton(el, label, onActivate) {
  el.tabIndex = 0;
  el.setAttribute("role", "button");
  el.setAttribute("aria-label", label);
  el.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); onActivate(); }
  });
}
