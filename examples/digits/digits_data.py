"""The data side of the digits example: scikit-learn's bundled 8x8 digits.

scikit-learn ships the data set, so nothing is downloaded. The split is fixed
(seed 7, 20% held out, stratified) so that `train.py` never sees the images
`make_inputs.py` renders. Pixels are scaled from the data set's 0..16 levels to
[0, 1] for training; a PNG stores them as 0..255 greyscale, and the service
divides by 255, so the served model sees (up to rounding) the training tensor.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

SEED = 7
HELD_OUT_FRACTION = 0.2


@dataclass(frozen=True)
class DigitsSplit:
    """Float32 NCHW images in [0, 1] and integer labels, train and held-out."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_split() -> DigitsSplit:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[:, None, :, :]
    y = digits.target.astype("int64")
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=HELD_OUT_FRACTION, random_state=SEED, stratify=y
    )
    return DigitsSplit(x_train, y_train, x_test, y_test)


def render_png(image: np.ndarray) -> bytes:
    """One ``(1, 8, 8)`` image in [0, 1] as an 8x8 greyscale PNG."""
    from PIL import Image

    pixels = np.clip(np.rint(image[0] * 255.0), 0, 255).astype("uint8")
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()
