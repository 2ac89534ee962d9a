"""Write the tutorial notebooks in examples/ (without outputs) from the cells below.

Run ``python scripts/make_notebooks.py`` after editing a cell here; the notebooks are committed
and tests/notebook/test_notebooks.py executes each of them with a real kernel.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

SETUP = '''import digitlens as dl

# The embedded sample (2,000 training and 1,000 test digits of real MNIST) keeps this notebook
# under a minute. Set DATASET = "mnist" (and drop the epochs= overrides) for the real thing.
DATASET = "mnist-sample"'''

NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "s0-fingerprints": [
        ("md", "# S0: activation fingerprints\n\nA 784-256-64-10 network. Feed it a digit and "
               "look at every layer's activations as a grid of squares: each digit lights up "
               "its own consistent pattern, its *fingerprint*."),
        ("code", SETUP),
        ("code", 'run = dl.train(preset="s0-fingerprints", epochs=3, out="runs/nb-s0", '
                 'dataset=DATASET)\nrun'),
        ("md", "One test 5 beside the activations of the three layers (brighter = fires more):"),
        ("code", "dl.views.fingerprints(run, digit=5)"),
        ("md", "Many different 5s, one per frame, with fixed brightness scales (an animated GIF):"),
        ("code", "dl.views.fingerprints(run, digit=5, animated=True, frames=8)"),
        ("md", "Every class's mean fingerprint, and how consistently single digits match it:"),
        ("code", 'dl.views.fingerprints(run, mode="classes")'),
        ("md", "The numbers behind it are a plain dataclass of NumPy arrays:"),
        ("code", "fp = dl.analysis.class_fingerprints(run)\n"
                 "print('read-out accuracy per layer:', [round(a, 3) for a in "
                 "fp.readout_accuracy])\nfp.consistency.round(2)"),
    ],
    "s1-evidence": [
        ("md", "# S1: evidence in a single-layer network\n\nA 784-10 network has no hidden "
               "layer: each class's score is just Σ pixel × weight + bias. So the evidence "
               "is exact and the weights look like digits."),
        ("code", SETUP),
        ("code", 'run = dl.train(preset="s1-single-layer", epochs=5, out="runs/nb-s1", '
                 'dataset=DATASET)\nrun'),
        ("code", "dl.views.evidence(run, digit=3)"),
        ("md", "Every class's weights as a 28×28 image (red pixels vote for the class, blue "
               "against):"),
        ("code", "dl.views.weights(run)"),
        ("md", "The evidence numbers: input × weights summed per class, plus the bias, is the "
               "score the network computed."),
        ("code", "import numpy as np\n\nimage = run.dataset.test_images[0]\n"
                 "ev = dl.analysis.evidence(run, image)\n"
                 "bias = run.model.biases[0]\n"
                 "print('true label', run.dataset.test_labels[0], '· predicted', ev.prediction)\n"
                 "np.allclose(ev.contributions.sum(axis=0) + bias, ev.scores, atol=1e-4)"),
        ("code", "dl.views.evidence(run, animated=True, frames=6)"),
    ],
    "s2-composed-weights": [
        ("md", "# S2: weight images, composed weights, and few vs many training images\n\n"
               "First-layer neurons have 784 weights: a 28×28 picture each. Deeper neurons "
               "are drawn by multiplying the weight matrices (W1·W2, W1·W2·W3)."),
        ("code", SETUP),
        ("code", 'run = dl.train(preset="s2-weight-images", epochs=2, out="runs/nb-s2", '
                 'dataset=DATASET)\nrun'),
        ("code", 'dl.views.weights(run, style="grey")'),
        ("code", "dl.views.composed(run)"),
        ("code", "comp = dl.analysis.composed(run)\n[c.shape for c in comp.images]"),
        ("md", "S2 trained the same network on 500 images and on all 60,000. With the sample "
               "the comparison is 500 vs 2,000; with `DATASET = \"mnist\"` it is S2's."),
        ("code", 'small = dl.train(preset="s2-weight-images", epochs=2, train_size=500,\n'
                 '                 out="runs/nb-s2-500", dataset=DATASET)\n'
                 "dl.views.weights(run, compare=small)"),
    ],
    "s3-training-video-and-canvas": [
        ("md", "# S3: the training video and the drawing canvas\n\nmachine.academy's "
               "784-64-10 sigmoid network. The monitor redraws the accuracy curve and the "
               "hidden neurons' weights after every epoch."),
        ("code", SETUP),
        ("code", "monitor = dl.TrainingMonitor()\nmonitor"),
        ("md", "S3 takes 120 steps an epoch (60,000 digits in batches of 500) for 230 "
               "epochs. On the 2,000-digit sample, batches of 50 give 40 steps an epoch, so "
               "the 15 epochs here are about 5 of S3's: expect a curve that is still rising."),
        ("code", 'run = dl.train(preset="s3-machine-academy", epochs=15, batch_size=50,\n'
                 '               out="runs/nb-s3", dataset=DATASET, monitor=monitor)\nrun'),
        ("md", "The training video, epoch by epoch (a GIF here; `.save(\"s3.mp4\")` writes "
               "an MP4):"),
        ("code", "video = dl.views.evolution(run)\nvideo"),
        ("code", "from IPython.display import HTML\n\nHTML(dl.views.video_html(video))"),
        ("code", "dl.views.neurons(run)"),
        ("md", "## The canvas\n\nDraw a digit below. The drawing is cropped, fitted into "
               "20×20 and centred by its centre of mass, as MNIST's digits were: that is "
               "what made S3's canvas work."),
        ("code", "explorer = dl.Explorer(run)\nexplorer"),
        ("md", "Then, in the next cell, the drawing and the prediction are Python values:"),
        ("code", "if explorer.pixels:\n    print('the widget says', explorer.prediction)\n"
                 "    print(dl.predict(run, explorer.image))\n"
                 "    display(dl.views.evidence(run, image=explorer.image))\n"
                 "else:\n    print('draw a digit above, then run this cell again')"),
    ],
    "s4-workbook": [
        ("md", "# S4: every number of a network, in a spreadsheet\n\nNielsen's 784-30-10 "
               "sigmoid network with the quadratic cost. A neuron's value is Σ inputs × "
               "weights + bias, squashed by the sigmoid: here with the real numbers, then "
               "as an Excel workbook whose formulas do the same."),
        ("code", SETUP),
        ("code", 'run = dl.train(preset="s4-excel", epochs=3, out="runs/nb-s4", '
                 'dataset=DATASET)\nrun'),
        ("code", "image = run.dataset.test_images[0]\n"
                 "a = dl.analysis.arithmetic(run, layer=0, index=0, image=image)\n"
                 "print(f'z = {a.terms.sum():.4f} (Σ inputs × weights) + {a.bias:.4f} (bias) = "
                 "{a.z:.4f}')\nprint(f'sigmoid(z) = {a.value:.4f}')\n"
                 "t = dl.analysis.trace(run, image)\n"
                 "abs(t.activations[1][0] - a.value) < 1e-5"),
        ("code", "dl.predict(run, image)"),
        ("code", "from digitlens.export.xlsx import export_xlsx\n\n"
                 "export_xlsx(run.model, 'runs/nb-s4/s4.xlsx', image / 255, "
                 "caption='test digit 0')"),
        ("md", "Open `runs/nb-s4/s4.xlsx`: type 0..1 values into the Draw sheet's grid and "
               "watch `predicted_digit` recalculate."),
        ("code", "dl.views.evidence(run, image=image)"),
    ],
    "bring-your-own-pytorch-model": [
        ("md", "# Bring your own PyTorch model\n\nA multilayer perceptron trained in PyTorch "
               "goes through ONNX into digitlens, and every view works on it. PyTorch is "
               "optional (`pip install torch==2.13.0`); without it this notebook loads the "
               "same kind of network that `examples/data/make_torch_mlp.py` exported."),
        ("code", "import sys\nfrom pathlib import Path\n\n" + SETUP + "\n\n"
                 "try:\n    import torch\nexcept ImportError:\n    torch = None\n"
                 "print('PyTorch', torch.__version__ if torch else 'not installed: using the "
                 "committed ONNX file')"),
        ("code", "if torch is not None:\n"
                 "    sys.path.insert(0, 'data')\n"
                 "    from make_torch_mlp import train_and_export\n\n"
                 "    from digitlens.data.sources import load_dataset\n\n"
                 "    sample = load_dataset(DATASET)\n"
                 "    onnx_path = train_and_export(sample, Path('runs/my-torch.onnx'))\n"
                 "else:\n    onnx_path = Path('data/torch-mlp.onnx')\nonnx_path"),
        ("code", "run = dl.load(onnx_path, dataset=DATASET)\nrun"),
        ("code", "print('test accuracy', dl.analysis.evaluate(run).accuracy)\n"
                 "dl.views.fingerprints(run, digit=2)"),
        ("code", "dl.views.composed(run)"),
        ("code", "dl.views.errors(run)"),
        ("md", "Every question the command line asks, from Python, on the same loaded network: "
               "the smallest change that makes it read a 3, each pixel's share of the answer, "
               "what the output neuron for 3 likes most, and the hidden layers on a map. Each "
               "answer is a dataclass of NumPy arrays that shows itself as a picture."),
        ("code", "dl.nudge(run, index=0, target=3)"),
        ("code", "a = dl.attribute(run, index=0)\nprint(repr(a))\na"),
        ("code", "dl.dream(run, target=3, steps=100)"),
        ("code", "dl.map(run)"),
        ("md", "Why this answer and not the runner-up: the hidden neurons that carry the gap "
               "between the two output scores, then the second test digit's last hidden layer "
               "copied into the first's (does the answer follow?), and one gradient step "
               "teaching the first digit as a 3 (the run itself is left as it was)."),
        ("code", "dl.circuit(run, index=0, max_nodes=12)"),
        ("code", "dl.patch(run, source_index=1, into_index=0, layer=run.model.n_layers - 2)"),
        ("code", "s = dl.step(run, index=0, label=3, lr=0.05)\nprint(repr(s))\ns"),
        ("md", "A state_dict saved with `torch.save(model.state_dict(), 'm.pt')` (or a "
               "checkpoint dict holding one) loads the same way, and PyTorch is not needed to "
               "read it: `dl.load('m.pt', activation='relu')`."),
    ],
}


def notebook(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = new_notebook(cells=[new_markdown_cell(src) if kind == "md" else new_code_cell(src)
                             for kind, src in cells])
    for i, cell in enumerate(nb.cells):  # stable ids: a rewrite changes only edited cells
        cell.id = f"cell-{i:02d}"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        path = EXAMPLES / f"{name}.ipynb"
        nbformat.write(notebook(cells), path)
        print(path)


if __name__ == "__main__":
    main()
