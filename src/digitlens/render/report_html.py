"""The report's HTML: one self-contained page, inline CSS, no scripts, no network.

Every string from data (class names, run paths) is escaped where it is placed, and the page
carries a Content-Security-Policy that allows no script at all and only its own stylesheet (no
``style`` attributes: per-figure sizes are rules in that stylesheet), so a missed escape still
could not run anything."""

from __future__ import annotations

import html
from typing import Any

from digitlens import csp
from digitlens import palette as C
from digitlens.wording import count

CSS = """
:root { --ink:#222; --muted:#666; --accent:#313695; --true:#1a9850; --wrong:#f07800;
        --controls: 96px; }
* { box-sizing: border-box; }
body { font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       margin: 0; background: #fafafa; }
header { background: #fff; border-bottom: 1px solid #e5e5e5; padding: 28px 40px 18px; }
header h1 { margin: 0 0 6px; font-size: 28px; }
header p { margin: 4px 0; color: var(--muted); max-width: 880px; }
nav { margin-top: 12px; display: flex; flex-wrap: wrap; gap: 8px; }
nav a { color: var(--accent); text-decoration: none; font-size: 14px; border: 1px solid #d6d9ee;
        border-radius: 14px; padding: 2px 10px; background: #f4f5fb; }
main { padding: 10px 40px 60px; max-width: 1500px; }
section { background: #fff; border: 1px solid #e8e8e8; border-radius: 10px; margin: 22px 0;
          padding: 18px 24px; }
h2 { margin: 0 0 6px; font-size: 22px; } h2 .seed { font-size: 13px; color: var(--muted);
     font-weight: normal; margin-left: 8px; }
figure { margin: 18px 0; } figure img, figure video { max-width: 100%; height: auto;
     border: 1px solid #eee; border-radius: 4px; }
figure.video { container-type: inline-size; max-width: calc(var(--w) * 1px + 2px); }
figure.video video { display: block; width: 100%; max-width: none; background: #fff;
     height: calc((100cqw - 2px) * var(--h) / var(--w) + 2px + var(--controls));
     object-fit: contain; object-position: top; }
figcaption { color: var(--muted); font-size: 14.5px; max-width: 880px; margin-top: 6px; }
figcaption::before { content: "Look: "; font-weight: 600; color: var(--accent); }
table { border-collapse: collapse; margin: 12px 0; font-size: 14px; }
th, td { border-bottom: 1px solid #eee; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #f6f6f6; }
.settings { display: flex; flex-wrap: wrap; gap: 6px 22px; font-size: 14px; margin-top: 10px; }
.settings span b { color: var(--ink); } .settings span { color: var(--muted); }
.big { font-size: 22px; color: var(--true); font-weight: 700; }
.findings { margin-top: 14px; background: #f4f5fb; border-left: 4px solid var(--accent);
            padding: 10px 16px; border-radius: 4px; max-width: 980px; font-size: 15px; }
.findings ul { margin: 6px 0 0; padding-left: 20px; }
.drawn { font-size: 14px; color: var(--muted); margin: 2px 0 8px; overflow-wrap: anywhere; }
.note { font-size: 14px; color: var(--muted); max-width: 880px; }
a.download { font-weight: 600; color: var(--accent); }
.models { overflow-x: auto; } .models td, .models th { text-align: left; }
.models td:nth-child(4), .models td:nth-child(5), .models td:nth-child(6) { text-align: right; }
section table, header table { display: block; overflow-x: auto; max-width: 100%; }
header td:last-child { min-width: 16em; }  /* "drawn here" keeps a readable width */
@media (max-width: 600px) { header, main, footer { padding-left: 14px; padding-right: 14px; }
  section { padding: 14px; } header h1 { font-size: 24px; } }
footer { color: var(--muted); font-size: 13px; padding: 0 40px 30px; }
.swatch { display: inline-block; width: .9em; height: .9em; border-radius: 2px; margin: 0 3px 0 1px;
          vertical-align: -1px; border: 1px solid rgba(0,0,0,.25); }
"""


KEY = ("pos", "neg", "bias_pos", "bias_neg", "true", "wrong")


def swatch_rules() -> str:
    """One class per colour of the key, in the palette in use (the page's policy allows no
    ``style`` attributes, so the swatches' colours are rules of its stylesheet)."""
    rgb = {"pos": C.RED, "neg": C.BLUE, "bias_pos": C.BIAS_YELLOW, "bias_neg": C.BIAS_GREEN,
           "true": C.NAMED["true"], "wrong": C.NAMED["wrong"]}
    return "".join(".sw-{} {{ background: #{:02x}{:02x}{:02x}; }}\n".format(k, *rgb[k])
                   for k in KEY)


def colour_key() -> str:
    """What the colours mean, each with a swatch beside plain dark words (coloured words were
    too faint to read, and a swatch still names its colour for those who cannot tell it)."""
    def sw(key: str) -> str:
        return f"<span class='swatch sw-{key}'></span>"
    hue = C.palette_words()
    return ("Colours mean the same everywhere: "
            f"{sw('pos')}{hue['pos']} positive, {sw('neg')}{hue['neg']} negative; "
            f"{sw('bias_pos')}{hue['bias_pos']} / {sw('bias_neg')}{hue['bias_neg']} a bias "
            f"above / below zero; {sw('true')}{hue['true']} the true class, "
            f"{sw('wrong')}{hue['wrong']} a wrong answer.")


INTRO = {
    "training": "A network starts as random numbers. Each epoch it sees every training digit once "
                "and nudges its weights to make fewer mistakes.",
    "fingerprints": "Feed a digit in and every neuron produces a number: its activation. Drawn as "
                    "brightness, the activations of a layer form a pattern.",
    "evidence": "The output layer adds up evidence for each digit class; the biggest total wins.",
    "weights": "Each first-layer neuron multiplies the 784 pixels by its 784 weights. Drawn as a "
               "28×28 image, the weights show what the neuron responds to.",
    "neurons": "Are all the neurons needed? We rank them, switch them off and measure.",
    "maps": "Each layer turns a digit into a list of numbers, a point in a space with one axis "
            "per neuron. Flattened to two dimensions, the test digits of one class gather.",
    "errors": "Nobody is perfect: here is what the network gets wrong.",
    "workbook": "The same arithmetic, one spreadsheet cell at a time: nothing hidden.",
    "robustness": "MNIST digits are centred and sized the same way. A drawing that is not looks "
                  "unfamiliar to the network.",
    "sweep": "The same preset trained many times over a grid of settings and seeds (digitlens "
             "sweep): how much each setting matters, and how much is the luck of the seed.",
}


def section(anchor: str, title: str, body: str, seed: str,
            shape: tuple[int, int] = (28, 28)) -> tuple[str, str, str]:
    """A section of the page; ``shape``: the input image the intro speaks of (MNIST's 28×28)."""
    tag = f'<span class="seed">({html.escape(seed)})</span>' if seed else ""
    intro = INTRO.get(anchor, "")
    if shape != (28, 28):
        intro = intro.replace("784", str(shape[0] * shape[1])).replace(
            "28×28", f"{shape[0]}×{shape[1]}")
    return anchor, title, (f'<section id="{anchor}"><h2>{html.escape(title)}{tag}</h2>'
                           f"<p>{html.escape(intro)}</p>{body}</section>")


def table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                  for r in rows)
    # tabindex: on a phone a wide table scrolls sideways, and a keyboard must reach it too
    return f'<table tabindex="0"><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>'


def settings_table(config: dict[str, Any], meta: dict[str, Any]) -> str:
    keys = ("preset", "layers", "activation", "output", "cost", "optimizer", "lr", "batch_size",
            "l2", "epochs", "schedule", "train_size", "seed")
    items = [f"<span>{html.escape(k.replace('_', ' '))}: <b>{html.escape(str(config[k]))}</b>"
             "</span>" for k in keys if k in config and config[k] is not None]
    items.append(f"<span>parameters: <b>{meta['params']:,}</b></span>")
    items.append(f"<span>dataset: <b>{html.escape(str(meta['dataset']))}</b></span>")
    trained = (f"after {count(meta['epochs'], 'epoch')}" if meta["epochs"] is not None
               else "by a network read from a model file")  # no history: not "0 epochs"
    return (f'<p><span class="big">{meta["accuracy"]:.2%}</span> of '
            f"{count(meta['n_test'], 'test digit')} recognised {trained}.</p>"
            f'<div class="settings">{"".join(items)}</div>')


def page(title: str, header: str, sections: list[tuple[str, str, str]],
         lead: str = "Everything below was computed from one trained network.",
         seeded: bool = True, rules: tuple[str, ...] = ()) -> str:
    """The whole page; ``seeded``: the sections carry MNIST's S0–S4 tags, and it says what
    they are; ``rules``: CSS rules of single figures (a video's size)."""
    nav = "".join(f'<a href="#{a}">{html.escape(t)}</a>' for a, t, _ in sections)
    body = "".join(s for _, _, s in sections)
    tags = ("The tags S0–S4 after a title name the presets whose networks first showed that "
            "picture (<code>digitlens presets</code> lists them).") if seeded else ""
    style = CSS + swatch_rules() + "".join(f"{r}\n" for r in rules)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f"{csp.meta(csp.policy(styles=[style], files=True))}"
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{style}</style></head><body>"
            f"<header><h1>{html.escape(title)}</h1>"
            f"<p>{html.escape(lead)} {colour_key()} "
            f"{tags}</p>"
            f"{header}<nav>{nav}</nav></header><main>{body}</main>"
            f"<footer>Made with digitlens. Re-create any figure with <code>digitlens render "
            f"VIEW --run RUN --out FILE</code>.</footer></body></html>")


def findings_box(findings: list[str]) -> str:
    items = "".join(f"<li>{f}</li>" for f in findings)
    return f'<div class="findings"><b>What this page shows, in numbers</b><ul>{items}</ul></div>'
