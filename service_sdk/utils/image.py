"""Image helpers: safe decoding, resizing, cropping, normalising, NCHW layout.

Decoding is where untrusted bytes meet C code, so :func:`read_image` refuses
what a server must not try: non-images, truncated files, and images whose
header announces more pixels than ``max_pixels`` (a decompression bomb is a
few KB of PNG that inflates to gigabytes). Those are client errors, raised
as :class:`RequestError` so only that request fails. JPEGs are decoded in
draft mode at the smallest scale that still covers the requested size, so a
large photo costs a fraction of a full decode.
"""
from __future__ import annotations

import io
import warnings
from typing import Optional, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from service_sdk.errors import RequestError

# 40 megapixels: any camera photo, while bounding the decode buffer (~120 MB RGB).
DEFAULT_MAX_PIXELS = 40_000_000
MODES = {1: "L", 3: "RGB"}


def read_image(data: bytes, mode: str = "RGB", size_hint: Optional[tuple[int, int]] = None,
               max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode ``data`` into a ``mode`` image; ``size_hint`` (w, h) enables JPEG draft decoding."""
    if not isinstance(data, (bytes, bytearray)):
        raise RequestError(f"expected image bytes, got {type(data).__name__} (check the request's content type)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(bytes(data)))
    except Image.DecompressionBombError as exc:
        raise RequestError(f"image refused: {exc}", status=413) from None
    except UnidentifiedImageError:
        raise RequestError("request body is not an image in a format Pillow can decode") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise RequestError(f"request body is not a decodable image: {exc}") from None
    width, height = image.size
    if width * height > max_pixels:
        raise RequestError(f"image refused: {width}x{height} is more than the {max_pixels} pixel limit", status=413)
    if size_hint is not None and image.format == "JPEG":
        image.draft(mode, size_hint)
    try:
        image.load()
        return image.convert(mode)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise RequestError(f"image could not be decoded: {exc}") from None


def resize(image: Image.Image, size: tuple[int, int], resample: int = Image.BILINEAR) -> Image.Image:
    """Resize to exactly ``size`` = (width, height), ignoring aspect ratio."""
    return image if image.size == tuple(size) else image.resize(tuple(size), resample)


def resize_shorter(image: Image.Image, shorter: int, resample: int = Image.BILINEAR) -> Image.Image:
    """Scale so the shorter side is ``shorter`` pixels, keeping the aspect ratio."""
    width, height = image.size
    scale = shorter / min(width, height)
    return image.resize((max(1, round(width * scale)), max(1, round(height * scale))), resample)


def center_crop(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The central ``size`` = (width, height) region (the image must be at least that big)."""
    width, height = image.size
    crop_w, crop_h = size
    if crop_w > width or crop_h > height:
        raise ValueError(f"cannot crop {crop_w}x{crop_h} from a {width}x{height} image")
    left, top = (width - crop_w) // 2, (height - crop_h) // 2
    return image.crop((left, top, left + crop_w, top + crop_h))


def fit(image: Image.Image, size: tuple[int, int], mode: str = "stretch") -> Image.Image:
    """Bring an image to ``size``: ``stretch`` resizes, ``center_crop`` resizes the shorter side then crops."""
    if mode == "stretch":
        return resize(image, size)
    if mode == "center_crop":
        return center_crop(resize_shorter(image, max(size)), size)
    raise ValueError(f"unknown resize mode {mode!r}: use 'stretch' or 'center_crop'")


def to_array(image: Image.Image) -> np.ndarray:
    """``(H, W, C)`` float32 pixel values 0..255 (C = 1 for greyscale)."""
    array = np.asarray(image, dtype=np.float32)
    return array[:, :, None] if array.ndim == 2 else array


def normalize(array: np.ndarray, scale: float = 1.0, mean: Optional[Sequence[float]] = None,
              std: Optional[Sequence[float]] = None) -> np.ndarray:
    """``(array * scale - mean) / std`` with per-channel ``mean``/``std`` on the last axis."""
    out = array.astype(np.float32) * np.float32(scale)
    if mean is not None:
        out = out - np.asarray(mean, dtype=np.float32)
    if std is not None:
        out = out / np.asarray(std, dtype=np.float32)
    return out


def to_chw(array: np.ndarray) -> np.ndarray:
    """``(H, W, C)`` → ``(C, H, W)``."""
    return np.ascontiguousarray(np.transpose(array, (2, 0, 1)))


def to_nchw(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """A list of ``(H, W, C)`` images → one ``(N, C, H, W)`` batch."""
    return np.stack([to_chw(a) for a in arrays])
