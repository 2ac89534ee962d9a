"""A run's model as a downloadable JSON, ONNX or Excel file, built in memory and cached.

Files are made from the registered run's model (never from a request path) by the same
functions the ``export`` command uses, so a download equals ``digitlens export``'s file. The
workbook of a big net takes seconds (and ~130 MB while it is built), so files are built
through a ``Flights`` (``digitlens.web.flight``): cached per (run, model version, format,
digit) with a byte budget, concurrent requests for the same file wait for one build, one file
is built at a time and a few more wait; beyond that the answer is 503 with ``Retry-After``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitlens.errors import NotFoundError, bad_param
from digitlens.web.convnets import LoadedCNN
from digitlens.web.flight import Flights
from digitlens.web.runs import LoadedRun

FORMATS = ("json", "onnx", "xlsx")
MEDIA_TYPES = {"json": "application/json",
               "onnx": "application/octet-stream",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
CACHE_BYTES = 128 * 1024 * 1024  # ~16 workbooks of the 784-512-256-10 default net

Key = tuple[str, float, str, int | None]


@dataclass(frozen=True)
class Download:
    """One built file: its bytes, media type and the name the browser saves it under."""

    body: bytes
    media_type: str
    filename: str

    @property
    def headers(self) -> dict[str, str]:
        # run names are letters, digits, '.', '_' and '-': nothing to quote or escape
        return {"Content-Disposition": f'attachment; filename="{self.filename}"'}


def shown_digit(run: LoadedRun, digit: int | None) -> tuple[np.ndarray, str]:
    """The digit the workbook shows: the first test image of class ``digit`` (default: the
    first test image), as ``digitlens export --digit`` picks it."""
    ds = run.dataset
    index = 0
    if digit is not None:
        hits = np.flatnonzero(ds.test_labels == digit)
        if not len(hits):
            raise NotFoundError(f"the test set of run {run.name!r} has no digit {digit}")
        index = int(hits[0])
    label = int(ds.test_labels[index])
    return (ds.test_images[index] / 255.0,
            f"{ds.name} test image #{index} (label {label})")


def build(run: LoadedRun | LoadedCNN, fmt: str, digit: int | None) -> Download:
    """The file's bytes, made with the export modules (blocking: call it off the event loop);
    a convolutional run has its ONNX file only (the app refuses it the other formats)."""
    if isinstance(run, LoadedCNN):
        from digitlens.export.onnx_cnn import cnn_to_onnx
        if fmt != "onnx":
            raise bad_param("format", "onnx for a convolutional network", fmt)
        return Download(cnn_to_onnx(run.model).SerializeToString(), MEDIA_TYPES[fmt],
                        f"{run.name}.onnx")
    if fmt == "json":
        from digitlens.export.json_format import to_json_text
        body = to_json_text(run.model).encode("utf-8")
        name = f"{run.name}.json"
    elif fmt == "onnx":
        from digitlens.export.onnx_format import to_onnx
        body = to_onnx(run.model).SerializeToString()
        name = f"{run.name}.onnx"
    elif fmt == "xlsx":
        from digitlens.export.xlsx import workbook_bytes
        image, caption = shown_digit(run, digit)
        body = workbook_bytes(run.model, image, caption)
        name = f"{run.name}.xlsx" if digit is None else f"{run.name}-digit-{digit}.xlsx"
    else:
        raise bad_param("format", f"one of {', '.join(FORMATS)}", fmt)
    return Download(body, MEDIA_TYPES[fmt], name)


class Downloads:
    """Built files, least recently used dropped first once ``budget`` bytes are held."""

    def __init__(self, budget: int = CACHE_BYTES) -> None:
        self.flights = Flights("file download", running=1, waiting=4, keep=256, budget=budget,
                               weigh=lambda made: len(made.body))

    @property
    def builds(self) -> int:
        """How many files were actually made (the rest came from the cache)."""
        return self.flights.computed

    @property
    def building(self) -> bool:
        return bool(self.flights.pending)

    async def get(self, run: LoadedRun | LoadedCNN, fmt: str, digit: int | None) -> Download:
        """The file for this run's current model, built once however many ask at a time."""
        key: Key = (run.name, run.mtime, fmt, digit)
        return await self.flights.run(key, lambda: build(run, fmt, digit))
