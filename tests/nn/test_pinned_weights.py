"""The default preset's weights after 2 seeded epochs are pinned, bit for bit, on any CPU.

Refactoring the engine (forward, backward, kernels, optimizer, run folder) must not change one
bit of what training produces. The hashes below were computed before the engine was reorganised
and must stay: a change in them is a change in behaviour, not a new baseline.

OpenBLAS picks its matmul kernel by CPU, and different kernels round differently, so a hash holds
for one kernel only. To mean the same on every machine, each training runs in a child process
with the kernel forced by ``OPENBLAS_CORETYPE`` (OpenBLAS honours it on any CPU with the
instructions that kernel uses) and one BLAS thread; the child reports the kernel it got, and a
kernel other than the one asked for fails the test rather than comparing against the wrong pin.

Which kernel: ``DIGITLENS_PINNED_KERNEL`` if set (CI runs this file a second time with another
kernel), else the first of ``PREFERRED`` that the CPU supports (``/proc/cpuinfo`` flags).
On a CPU that supports none of them (not x86-64, or x86-64 without AVX), or a NumPy that does not
call OpenBLAS, nothing pinned can be reproduced: the pinned test skips and says why (failing under
``DIGITLENS_REQUIRE_E2E``, as CI runs on x86-64), while ``test_numpy_and_numba_agree`` still holds
the part every machine can check: NumPy's and numba's element-wise kernels train the same bits.

To pin another kernel, on a commit where this test passes run

    OPENBLAS_CORETYPE=Name python tests/nn/test_pinned_weights.py

and add the lines it prints to ``PINNED`` (with the instruction-set flags it needs in ``NEEDS``).
The pins hold for the OpenBLAS that NumPy's wheels ship (0.3.31 when they were taken).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# OpenBLAS kernel -> dataset -> SHA-256 of the float32 parameters after
# `digitlens train --preset default --epochs 2 --seed 0 --threads 1`
PINNED: dict[str, dict[str, str]] = {
    "SkylakeX": {
        "mnist-sample": "6fe04b7e23920827767220504dbaac59da3e9da1ee36599fc2faa4bde5826fb9",
        "mnist": "7728ec54cc0a5e8ec02b94598fec49b6116693c668f7102563f5a7e22560d316",
    },
    "Haswell": {
        "mnist-sample": "8846152a46c6723ca1c1df667cbdb118d156ab330db0b9e3dc6205947a856c65",
        "mnist": "e991bf6cbeaf8a2fca8e7cecba1761d9645857d84b4eceedcdda6741b225885f",
    },
    "Sandybridge": {
        "mnist-sample": "d715a9846c189b2eadc5c292482365c558f53b75ebaf9532247f0621b1663c7b",
        "mnist": "244da72823f4bbc5486548e5134ae1ddb807c3e11b5ff955ca3cf2e1b5160dc1",
    },
}
# the CPU flags each kernel's instructions need (Haswell first: every x86-64 CPU since 2013,
# Intel and AMD alike, runs it)
NEEDS: dict[str, set[str]] = {
    "Haswell": {"avx2", "fma"},
    "SkylakeX": {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"},
    "Sandybridge": {"avx"},
}
PREFERRED = ("Haswell", "SkylakeX", "Sandybridge")


def blas_kernel() -> str:
    """The BLAS that NumPy calls, as ``internal_api/architecture`` (e.g. openblas/SkylakeX)."""
    import numpy  # noqa: F401  (loads the BLAS that threadpoolctl then reports)
    from threadpoolctl import threadpool_info
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return "+".join(f"{i['internal_api']}/{i.get('architecture', '?')}" for i in blas) or "none"


def cpu_flags() -> set[str]:
    """The instruction-set flags of this CPU (empty where /proc/cpuinfo does not list them)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def chosen_kernel() -> str | None:
    """The pinned kernel this run checks: the environment's choice, else the first the CPU runs."""
    if named := os.environ.get("DIGITLENS_PINNED_KERNEL"):
        if named not in PINNED:
            pytest.fail(f"DIGITLENS_PINNED_KERNEL={named}: no weights are pinned for it "
                        f"(pinned: {', '.join(PINNED)})")
        return named
    flags = cpu_flags()
    return next((k for k in PREFERRED if NEEDS[k] <= flags), None)


def trained_hash(dataset: str) -> str:
    """SHA-256 of the default preset's parameters after 2 epochs, seed 0, one BLAS thread."""
    from digitlens.data.sources import load_dataset, load_sample
    from digitlens.nn.presets import default_preset
    from digitlens.nn.train import train
    ds = load_sample() if dataset == "mnist-sample" else load_dataset(dataset, fallback=False)
    config = default_preset().config.with_overrides(epochs=2, seed=0, dataset=ds.name)
    result = train(config, ds, None, threads=1)
    return hashlib.sha256(result.model.params.tobytes()).hexdigest()


def hash_in_child(dataset: str, kernels: str, coretype: str | None) -> dict[str, str]:
    env = {**os.environ, "DIGITLENS_KERNELS": kernels}
    env.pop("OPENBLAS_CORETYPE", None)
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
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
    coretype = chosen_kernel()
    if coretype is None:
        why = ("this CPU supports none of the pinned OpenBLAS kernels "
               f"({', '.join(PINNED)}); test_numpy_and_numba_agree still checks the kernels")
        if os.environ.get("DIGITLENS_REQUIRE_E2E"):
            pytest.fail(why)
        pytest.skip(why)
    got = hash_in_child(dataset, kernels, coretype)
    assert got["backend"] == kernels
    assert got["kernel"] == f"openblas/{coretype}", (
        f"asked OpenBLAS for its {coretype} kernel and got {got['kernel']}: NumPy does not call "
        "a DYNAMIC_ARCH OpenBLAS here, so no pinned hash applies")
    assert got["sha256"] == PINNED[coretype][dataset], (
        f"the default preset's weights after 2 epochs on {dataset} changed "
        f"(kernel {coretype}, {kernels} kernels): training no longer computes the same numbers")


def test_numpy_and_numba_agree() -> None:
    """On this machine's own BLAS kernel, whatever it is: the fused and the NumPy element-wise
    kernels train bit-identical weights (the guarantee that needs no pin)."""
    if not has_numba():
        pytest.skip("numba (the `fast` extra) is not installed: only NumPy's kernels exist")
    numpy_run = hash_in_child("mnist-sample", "numpy", os.environ.get("OPENBLAS_CORETYPE"))
    numba_run = hash_in_child("mnist-sample", "numba", os.environ.get("OPENBLAS_CORETYPE"))
    assert numpy_run["kernel"] == numba_run["kernel"]
    assert numpy_run["sha256"] == numba_run["sha256"]


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        from digitlens.nn import kernels
        print(json.dumps({"kernel": blas_kernel(), "backend": kernels.backend(),
                          "sha256": trained_hash(sys.argv[2])}))
        return
    print(f"    {blas_kernel().removeprefix('openblas/')!r}: {{")
    for dataset in ("mnist-sample", "mnist"):
        print(f"        {dataset!r}: {trained_hash(dataset)!r},")
    print("    },")


if __name__ == "__main__":
    main()
