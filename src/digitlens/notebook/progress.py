"""An epoch progress bar: tqdm's notebook bar in Jupyter, a text bar elsewhere, none without
tqdm (the ``notebook`` extra)."""

from __future__ import annotations

from typing import Any


class EpochBar:
    """Advances once per finished epoch and shows the latest test accuracy."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar

    def on_epoch(self, row: dict[str, Any], _model: Any) -> None:
        loss = max(row["loss"], 0.0)  # never below 0: rounding can leave -1e-9 ("-0.000")
        self.bar.set_postfix(accuracy=f"{row['test_accuracy']:.2%}", loss=f"{loss:.3f}",
                             refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def epoch_bar(epochs: int, done: int = 0) -> EpochBar | None:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return EpochBar(tqdm(total=epochs, initial=min(done, epochs), desc="training", unit="epoch"))
