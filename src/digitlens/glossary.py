"""The one glossary: every term of the field a learner meets, in one plain sentence, with the
precise wording one step away. The page reads it from ``web/static/js/glossary-terms.js`` and
the docs from ``docs/glossary.md``, both written from here (committed, so the page needs no
build step; tests check they still match). Regenerate with ``python -m digitlens.glossary``."""

from __future__ import annotations

import json
from pathlib import Path

# term -> (plain words first, then the precise wording)
GLOSSARY: dict[str, tuple[str, str]] = {
    "neuron": ("A tiny calculator: it multiplies each of its inputs by a weight, adds them up "
               "with a bias and turns the total into one number, its activation.",
               "value = f(Σ inputs × weights + bias), f the layer's activation function."),
    "activation": ("The number a neuron gives out for this drawing: in the diagram, the "
                   "brighter the square, the harder it fires.",
                   "The output of the activation function, f(z)."),
    "weight": ("How much one input counts for a neuron: a positive weight pushes it up, a "
               "negative one pushes it down.",
               "An entry of the layer's matrix W, learned by gradient descent."),
    "bias": ("A neuron's starting point before any input is added: it makes the neuron easier "
             "or harder to switch on.", "The constant b in z = Σ w·a + b."),
    "signal a·w": ("What one line of the diagram carries: an input's value times the line's "
                   "weight. Only the strongest are drawn.",
                   "The product a_i·w_ij, one term of neuron j's weighted sum."),
    "hidden layer": ("A layer between the picture and the answer. Nobody told it what to look "
                     "for: it learned that by itself.",
                     "Any layer that is neither the input nor the output."),
    "ReLU": ("A rule for a neuron: a negative total becomes 0, a positive one passes as it is.",
             "Rectified linear unit, f(z) = max(0, z)."),
    "sigmoid": ("A rule for a neuron that squashes any total into a number between 0 and 1.",
                "f(z) = 1 / (1 + e^(−z))."),
    "softmax": ("Turns the output neurons' totals into chances that add up to 100%.",
                "p_k = e^(z_k) / Σ_j e^(z_j)."),
    "probability": ("How sure the network is of each answer, from 0% to 100%; all the "
                    "answers add up to 100%.", "The softmax of the output layer."),
    "evidence": ("Which pixels pushed the network towards each answer, and which pushed it "
                 "away.", "A per-pixel attribution of each class's score."),
    "gradient × input": ("A quick guess at which pixels mattered: how much the score would "
                         "move if a pixel changed a little, times how much ink it has.",
                         "∂score/∂x_i · x_i, each pixel's first-order effect on the class "
                         "score."),
    "integrated gradients": ("A slower, fairer way to share a score among the pixels: it "
                             "follows the drawing fading in from a blank page and adds up "
                             "each pixel's effect along the way.",
                             "(x_i − x'_i) · ∫ ∂score/∂x_i along the straight path from a "
                             "baseline x' to x; the shares add up to the score's change."),
    "centre of mass": ("The balance point of the ink. MNIST moved every digit so that this "
                       "point sits in the middle of the picture.",
                       "The intensity-weighted mean of the pixel coordinates."),
    "knock out": ("Switch a neuron off (its value forced to 0) to see how much the network "
                  "needs it.", "An ablation: zeroing one activation at inference."),
    "confusion matrix": ("A table of which digits get mistaken for which: each row is the "
                         "true digit, each column what the network said.",
                         "C[i, j] = how many test images of class i were predicted j."),
    "test accuracy": ("The share of digits the network never saw while training that it "
                      "gets right.", "Correct predictions / size of the test set."),
    "epoch": ("One pass through every training digit.",
              "One iteration over the whole training set, in mini-batches."),
    "linear probe": ("A check of how well a layer has sorted the digits: if a straight cut "
                     "can tell them apart there, the layer has done most of the work.",
                     "The accuracy of a linear classifier trained on the layer's "
                     "activations."),
    "PC1, PC2": ("The two directions along which the layer's values spread out most: the map "
                 "is drawn along them.",
                 "The first two principal components; their share of the variance is given."),
    "feature": ("One idea a layer has learned, found among its neurons: each digit is told by "
                "a few of many features, where most neurons mix several ideas at once.",
                "A direction in the layer's space from a sparse autoencoder: f = "
                "TopK_k(ReLU((a − b_dec)·W_enc + b_enc)), the layer rebuilt as f·W_dec + b_dec."),
}

ROOT = Path(__file__).resolve().parent
JS = ROOT / "web" / "static" / "js" / "glossary-terms.js"
DOC = ROOT.parent.parent / "docs" / "glossary.md"


def glossary_js() -> str:
    """The glossary as a JavaScript module for the page."""
    rows = "".join(f"  {json.dumps(term, ensure_ascii=False)}: "
                   f"[{json.dumps(plain, ensure_ascii=False)}, "
                   f"{json.dumps(precise, ensure_ascii=False)}],\n"
                   for term, (plain, precise) in GLOSSARY.items())
    return ("// Generated by `python -m digitlens.glossary` from digitlens/glossary.py: do not "
            "edit.\n// term -> [plain words, precise wording]\n"
            f"export const TERMS = {{\n{rows}}};\n")


def glossary_md() -> str:
    """The glossary as a page of the docs."""
    rows = "".join(f"- **{term}**: {plain} *Precisely:* {precise}\n"
                   for term, (plain, precise) in GLOSSARY.items())
    return ("# Glossary: the field's words in plain words\n\n"
            "The explorer shows each of these a tap or a focus away (a dotted underline); "
            "written from `src/digitlens/glossary.py` by `python -m digitlens.glossary`.\n\n"
            + rows)


if __name__ == "__main__":
    JS.write_text(glossary_js(), encoding="utf-8")
    DOC.write_text(glossary_md(), encoding="utf-8")
    print(JS, DOC)
