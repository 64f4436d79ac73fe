"""The accuracy gate: how far INT8 outputs are from FP32 on held-out inputs, and the verdict.

Top-1 agreement is the share of inputs whose best class is the same in both
models; the absolute differences are over the raw first output (logits or
probabilities, whatever the graph ends in). With labels, both accuracies are
measured and the drop is in percentage points.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Optional

from model_archiver.errors import ValidationFailed

if TYPE_CHECKING:  # numpy is imported where figures are measured, not when `build` starts
    import numpy as np



@dataclass(frozen=True)
class Figures:
    """Gate measurements; percentages in 0..100."""

    eval_count: int
    top1_agreement: float
    max_abs_diff: float
    mean_abs_diff: float
    fp32_accuracy: Optional[float] = None
    int8_accuracy: Optional[float] = None

    @property
    def accuracy_drop(self) -> Optional[float]:
        if self.fp32_accuracy is None or self.int8_accuracy is None:
            return None
        return round(self.fp32_accuracy - self.int8_accuracy, 4)

    def to_dict(self) -> dict[str, Any]:
        doc = {key: value for key, value in asdict(self).items() if value is not None}
        if self.accuracy_drop is not None:
            doc["accuracy_drop"] = self.accuracy_drop
        return doc

    def summary(self) -> str:
        text = (f"top-1 agreement {self.top1_agreement:.2f}% on {self.eval_count} held-out inputs, "
                f"max abs diff {self.max_abs_diff:.4g}, mean abs diff {self.mean_abs_diff:.4g}")
        if self.accuracy_drop is not None:
            text += (f", accuracy FP32 {self.fp32_accuracy:.2f}% vs INT8 {self.int8_accuracy:.2f}% "
                     f"(drop {self.accuracy_drop:.2f} points)")
        return text


def measure(fp32: "np.ndarray", int8: "np.ndarray", labels: "Optional[np.ndarray]" = None) -> Figures:
    """Compare two ``(N, classes...)`` outputs; ``labels`` are class indices or None."""
    import numpy as np

    fp32 = fp32.reshape(len(fp32), -1).astype(np.float64)
    int8 = int8.reshape(len(int8), -1).astype(np.float64)
    top_fp32, top_int8 = fp32.argmax(axis=1), int8.argmax(axis=1)
    diff = np.abs(fp32 - int8)
    accuracies = (None, None) if labels is None else (_percent(top_fp32 == labels), _percent(top_int8 == labels))
    return Figures(len(fp32), _percent(top_fp32 == top_int8), round(float(diff.max()), 6),
                   round(float(diff.mean()), 6), *accuracies)


def _percent(hits: "np.ndarray") -> float:
    return round(float(hits.mean()) * 100.0, 4)


def check(figures: Figures, min_agreement: float, max_accuracy_drop: float) -> None:
    """Raise :class:`ValidationFailed` (exit 3) naming the figures when INT8 strays too far."""
    failures = []
    if figures.top1_agreement < min_agreement:
        failures.append(f"agreement below --min-agreement {min_agreement:g}%")
    drop = figures.accuracy_drop
    if drop is not None and drop > max_accuracy_drop:
        failures.append(f"accuracy drop above --max-accuracy-drop {max_accuracy_drop:g} points")
    if failures:
        raise ValidationFailed([], message=f"INT8 accuracy gate failed ({'; '.join(failures)}): {figures.summary()}")
