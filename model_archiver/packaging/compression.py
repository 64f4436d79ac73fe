"""Choose, per file, whether to store or deflate it.

Weights barely shrink under deflate but cost ~10x the time to compress, and
stored entries also unzip several times faster in MMS. ``auto`` stores known
dense or already-compressed formats and anything whose sampled bytes do not
deflate below 90%; text-like files are deflated.
"""
from __future__ import annotations

import zlib
from pathlib import Path

STORE = "store"
DEFLATE = "deflate"
AUTO = "auto"
POLICIES = (AUTO, STORE, DEFLATE)

_DENSE_SUFFIXES = frozenset(
    {
        ".params", ".onnx", ".bin", ".pt", ".pth", ".pb", ".h5", ".npy", ".safetensors", ".tflite",
        ".npz", ".zip", ".mar", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".7z",
        ".jpg", ".jpeg", ".png", ".gif", ".webp", ".mp3", ".mp4", ".ogg",
    }
)
_SMALL = 4096
_SAMPLE = 64 * 1024
_INCOMPRESSIBLE_RATIO = 0.9


def choose(path: Path, size: int, policy: str) -> str:
    """Return ``STORE`` or ``DEFLATE`` for one file under ``policy``."""
    if policy != AUTO:
        return policy
    if path.suffix.lower() in _DENSE_SUFFIXES:
        return STORE
    if size <= _SMALL:
        return DEFLATE
    return STORE if _sample_ratio(path, size) > _INCOMPRESSIBLE_RATIO else DEFLATE


def _sample_ratio(path: Path, size: int) -> float:
    """Deflated/raw ratio of up to three samples (start, middle, end) of the file."""
    offsets = sorted({0, max(0, size // 2 - _SAMPLE // 2), max(0, size - _SAMPLE)})
    raw = compressed = 0
    with path.open("rb") as handle:
        for offset in offsets:
            handle.seek(offset)
            chunk = handle.read(_SAMPLE)
            raw += len(chunk)
            compressed += len(zlib.compress(chunk, 1))
    return compressed / raw if raw else 1.0
