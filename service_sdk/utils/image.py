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
# What Pillow's decoders raise on hostile bytes, all meaning "not a usable image" (a
# 400 for that request): beyond OSError/ValueError, tests/test_fuzz_requests.py found
# TypeError (TIFF, IM headers), NotImplementedError (DDS), AttributeError (SPIDER).
DECODE_ERRORS = (OSError, ValueError, SyntaxError, TypeError, NotImplementedError, AttributeError)


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
    except DECODE_ERRORS as exc:
        raise RequestError(f"request body is not a decodable image: {exc}") from None
    width, height = image.size
    if width * height > max_pixels:
        raise RequestError(f"image refused: {width}x{height} is more than the {max_pixels} pixel limit", status=413)
    if size_hint is not None and image.format == "JPEG":
        image.draft(mode, size_hint)
    try:
        image.load()
        return image if image.mode == mode else image.convert(mode)
    except (*DECODE_ERRORS, Image.DecompressionBombError) as exc:
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


def fit(image: Image.Image, size: tuple[int, int], mode: str = "stretch",
        resample: Optional[int] = None) -> Image.Image:
    """Bring an image to ``size``: ``stretch`` resizes, ``center_crop`` scales the shorter side to
    ``max(size)`` and keeps the centre.

    Both are one resampling pass: the crop is the source box of the resize, so
    no intermediate image is made and only the kept pixels are resampled. The
    default filter averages pixel areas (``BOX``) when shrinking - what MMS's
    own vision service does (OpenCV's area interpolation), ~30% cheaper than
    Pillow's bilinear - and is bilinear when enlarging.
    """
    if mode == "stretch":
        box = None
    elif mode == "center_crop":
        box = _center_box(image.size, size)
    else:
        raise ValueError(f"unknown resize mode {mode!r}: use 'stretch' or 'center_crop'")
    if box is None and image.size == tuple(size):
        return image
    if resample is None:
        source_w, source_h = image.size if box is None else (box[2] - box[0], box[3] - box[1])
        resample = Image.BOX if source_w >= size[0] and source_h >= size[1] else Image.BILINEAR
    return image.resize(tuple(size), resample, box=box)


def _center_box(source: tuple[int, int], size: tuple[int, int]) -> tuple[float, float, float, float]:
    """The source region that :func:`resize_shorter` to ``max(size)`` then :func:`center_crop` keeps."""
    width, height = source
    scale = max(size) / min(width, height)
    crop_w, crop_h = min(size[0] / scale, width), min(size[1] / scale, height)
    left, top = (width - crop_w) / 2, (height - crop_h) / 2
    return left, top, left + crop_w, top + crop_h


def to_tensor(image: Image.Image, scale: float = 1.0, mean: Optional[Sequence[float]] = None,
              std: Optional[Sequence[float]] = None) -> np.ndarray:
    """``(C, H, W)`` float32 ``(pixel * scale - mean) / std``, straight from the image's bytes.

    The same values as ``to_chw(normalize(to_array(image), ...))`` in one pass:
    the uint8 pixels are converted to float once, already in CHW order, and
    the normalisation is folded into one multiply-add per channel.
    """
    pixels = np.asarray(image)
    pixels = pixels[:, :, None] if pixels.ndim == 2 else pixels
    channels = pixels.shape[2]
    factor = np.full(channels, scale, dtype=np.float32)
    offset = np.zeros(channels, dtype=np.float32) if mean is None else np.asarray(mean, dtype=np.float32)
    if std is not None:
        factor /= np.asarray(std, dtype=np.float32)
        offset /= np.asarray(std, dtype=np.float32)
    out = np.empty((channels, *pixels.shape[:2]), dtype=np.float32)
    np.multiply(pixels.transpose(2, 0, 1), factor[:, None, None], out=out)
    if offset.any():
        out -= offset[:, None, None]
    return out


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
