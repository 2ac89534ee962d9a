"""The default preset's weights after 2 seeded epochs are pinned, bit for bit.

Refactoring the engine (forward, backward, kernels, optimizer, run folder) must not change one
bit of what training produces. The hashes below were computed before the engine was reorganised
and must stay: a change in them is a change in behaviour, not a new baseline.

OpenBLAS chooses its matmul kernel by CPU (``threadpoolctl``'s ``internal_api`` and
``architecture``), and different kernels round differently, so a hash holds for one kernel only.
On a machine whose kernel is not pinned the test fails (it does not skip: a silent skip would let
a change through unnoticed). To pin a new kernel, check out the commit the hashes come from
(or any commit where this test passes on a pinned machine), run

    python tests/nn/test_pinned_weights.py

on the new machine and add the line it prints to ``PINNED``.

Each training runs in a child process so that ``DIGITLENS_KERNELS`` picks the NumPy or the
numba element-wise kernels (they are bit-identical by design; see ``digitlens.nn.kernels``).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# kernel ("internal_api/architecture") -> dataset -> SHA-256 of the float32 parameters after
# `digitlens train --preset default --epochs 2 --seed 0 --threads 1`
PINNED: dict[str, dict[str, str]] = {
    "openblas/SkylakeX": {
        "mnist-sample": "6fe04b7e23920827767220504dbaac59da3e9da1ee36599fc2faa4bde5826fb9",
        "mnist": "7728ec54cc0a5e8ec02b94598fec49b6116693c668f7102563f5a7e22560d316",
    },
}


def blas_kernel() -> str:
    """The BLAS that NumPy calls, as ``internal_api/architecture`` (e.g. openblas/SkylakeX)."""
    import numpy  # noqa: F401  (loads the BLAS that threadpoolctl then reports)
    from threadpoolctl import threadpool_info
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return "+".join(f"{i['internal_api']}/{i.get('architecture', '?')}" for i in blas) or "none"


def trained_hash(dataset: str) -> str:
    """SHA-256 of the default preset's parameters after 2 epochs, seed 0, one BLAS thread."""
    from digitlens.data.sources import load_dataset, load_sample
    from digitlens.nn.presets import default_preset
    from digitlens.nn.train import train
    ds = load_sample() if dataset == "mnist-sample" else load_dataset(dataset, fallback=False)
    config = default_preset().config.with_overrides(epochs=2, seed=0, dataset=ds.name)
    result = train(config, ds, None, threads=1, monitor=False)
    return hashlib.sha256(result.model.params.tobytes()).hexdigest()


def hash_in_child(dataset: str, kernels: str) -> dict[str, str]:
    env = {**os.environ, "DIGITLENS_KERNELS": kernels}
    out = subprocess.run([sys.executable, __file__, "--child", dataset], env=env,
                         capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.splitlines()[-1])


def has_numba() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("kernels", ["numpy", "numba"])
@pytest.mark.parametrize("dataset", ["mnist-sample", "mnist"])
def test_default_preset_weights_are_pinned(dataset: str, kernels: str) -> None:
    if kernels == "numba" and not has_numba():
        pytest.skip("numba (the `fast` extra) is not installed: only NumPy's kernels exist")
    got = hash_in_child(dataset, kernels)
    assert got["backend"] == kernels
    pinned = PINNED.get(got["kernel"])
    if pinned is None:
        pytest.fail(f"no weights are pinned for the BLAS kernel {got['kernel']!r} (pinned: "
                    f"{', '.join(PINNED)}); to pin it, run `python {Path(__file__).name}` on "
                    "a commit whose training is known good and add its line to PINNED "
                    f"(this run gave {dataset}: {got['sha256']})")
    assert got["sha256"] == pinned[dataset], (
        f"the default preset's weights after 2 epochs on {dataset} changed "
        f"(kernel {got['kernel']}, {kernels} kernels): training no longer computes the same "
        "numbers")


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        from digitlens.nn import kernels
        print(json.dumps({"kernel": blas_kernel(), "backend": kernels.backend(),
                          "sha256": trained_hash(sys.argv[2])}))
        return
    print(f"    {blas_kernel()!r}: {{")
    for dataset in ("mnist-sample", "mnist"):
        print(f"        {dataset!r}: {trained_hash(dataset)!r},")
    print("    },")


if __name__ == "__main__":
    main()
