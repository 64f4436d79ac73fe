"""NumPy helpers for batching and reading model outputs."""
from __future__ import annotations

import numpy as np


def softmax(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax along ``axis``."""
    shifted = values - np.max(values, axis=axis, keepdims=True)
    exp = np.exp(shifted)
    return exp / np.sum(exp, axis=axis, keepdims=True)


def top_k(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ``k`` best ``(index, score)`` pairs of a 1-D array, best first (ties: lower index)."""
    flat = np.asarray(scores).reshape(-1)
    k = max(0, min(int(k), flat.size))
    order = np.argsort(-flat, kind="stable")[:k]
    return [(int(i), float(flat[i])) for i in order]


def batch_ranges(total: int, batch_size: int) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges covering ``total`` items in batches of ``batch_size``."""
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    return [(start, min(start + batch_size, total)) for start in range(0, total, batch_size)]


def take(array: np.ndarray, start: int, stop: int, axis: int) -> np.ndarray:
    """Items ``start:stop`` along ``axis``."""
    index = [slice(None)] * array.ndim
    index[axis] = slice(start, stop)
    return array[tuple(index)]


def pad_to(array: np.ndarray, size: int, axis: int = 0) -> np.ndarray:
    """Zero-pad ``array`` along ``axis`` to ``size`` items (a short last batch)."""
    missing = size - array.shape[axis]
    if missing <= 0:
        return array
    widths = [(0, 0)] * array.ndim
    widths[axis] = (0, missing)
    return np.pad(array, widths)


def bucket_sizes(batch_size: int) -> list[int]:
    """The batch sizes a service keeps executors for: powers of two below ``batch_size``, then it.

    A batch of ``n`` items runs on the smallest bucket >= ``n``, so it pays for
    at most twice its own size and a lone request for exactly one item.
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be >= 1, got {batch_size}")
    sizes = [1 << i for i in range(batch_size.bit_length()) if 1 << i < batch_size]
    return sizes + [batch_size]


def bucket_for(count: int, sizes: list[int]) -> int:
    """The smallest of the ascending ``sizes`` that holds ``count`` items (the largest if none does)."""
    return next((size for size in sizes if size >= count), sizes[-1])
