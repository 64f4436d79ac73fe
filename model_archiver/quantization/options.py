"""What a quantization is asked to do: the options and their defaults.

Kept apart from the modules that do the work (which need numpy, and MXNet in
the worker) so that ``build`` and ``quantize --help`` import nothing heavy.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from model_archiver.errors import UsageError

CALIB_MODES = ("naive", "entropy")
DEFAULT_CALIB_COUNT = 64
DEFAULT_MIN_AGREEMENT = 99.0
DEFAULT_MAX_ACCURACY_DROP = 1.0


@dataclass(frozen=True)
class QuantizeOptions:
    """What to quantize with and how strict the gate is (the CLI defaults)."""

    calibration: Path
    calib_mode: str = "naive"
    calib_count: int = DEFAULT_CALIB_COUNT
    exclude_layers: tuple[str, ...] = ()
    default_exclusions: bool = True
    eval_path: Optional[Path] = None
    min_agreement: float = DEFAULT_MIN_AGREEMENT
    max_accuracy_drop: float = DEFAULT_MAX_ACCURACY_DROP

    def check(self) -> None:
        if self.calib_mode not in CALIB_MODES:
            raise UsageError(f"unknown calibration mode {self.calib_mode!r}: choose {', '.join(CALIB_MODES)}")
        if self.calib_count < 1:
            raise UsageError(f"--calib-count must be at least 1, got {self.calib_count}")
        if not 0.0 <= self.min_agreement <= 100.0:
            raise UsageError(f"--min-agreement is a percentage (0..100), got {self.min_agreement}")
