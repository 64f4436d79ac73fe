"""Calibration and evaluation inputs: image folders (optionally labelled) or ``.npy`` tensors.

Images are decoded by the model's own service class - the same ``preprocess``
the vision service runs on a request body - so the INT8 ranges are measured
on exactly the tensors the server will feed. Labels come from a folder per
class (``DIR/<class>/*.png``) or a ``labels.csv`` (``file,label`` rows) or ``labels.json``
(``{file: label}``).

Listing (:func:`list_inputs`, :func:`split`) runs in the calling process;
decoding (:func:`load_tensors`) runs in the quantization worker, which may
import the user's handler and MXNet.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from model_archiver.errors import UsageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
LABELS_CSV = "labels.csv"
LABELS_JSON = "labels.json"  # {"file name": label}, as examples/digits/make_inputs.py writes
SPLIT_SEED = 0
HELD_OUT_FRACTION = 0.2


@dataclass(frozen=True)
class InputSet:
    """Images (``files``) or rows of one ``.npy`` (``npy`` + ``rows``); ``labels`` parallel or None."""

    files: tuple[str, ...] = ()
    npy: Optional[str] = None
    rows: tuple[int, ...] = ()
    labels: Optional[tuple[str, ...]] = None

    def __len__(self) -> int:
        return len(self.rows) if self.npy else len(self.files)

    def take(self, indices: Sequence[int]) -> "InputSet":
        labels = None if self.labels is None else tuple(self.labels[i] for i in indices)
        if self.npy:
            return InputSet(npy=self.npy, rows=tuple(self.rows[i] for i in indices), labels=labels)
        return InputSet(files=tuple(self.files[i] for i in indices), labels=labels)

    def to_dict(self) -> dict[str, Any]:
        return {"files": list(self.files), "npy": self.npy, "rows": list(self.rows),
                "labels": None if self.labels is None else list(self.labels)}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> "InputSet":
        labels = doc.get("labels")
        return cls(tuple(doc["files"]), doc["npy"], tuple(doc["rows"]), None if labels is None else tuple(labels))


def list_inputs(path: Path, what: str = "--calibration") -> InputSet:
    """An image folder (flat, folder-per-class, or with labels.csv) or a ``.npy`` file of tensors."""
    if path.is_file() and path.suffix == ".npy":
        return InputSet(npy=str(path.resolve()), rows=tuple(range(_npy_rows(path, what))))
    if not path.is_dir():
        raise UsageError(f"{what} {path}: expected a folder of images or a .npy file of input tensors")
    if (path / LABELS_CSV).is_file():
        return _csv_labelled(path, what)
    if (path / LABELS_JSON).is_file():
        return _json_labelled(path, what)
    flat = _images(path)
    classes = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if flat or not classes:
        if not flat:
            raise UsageError(f"{what} {path}: no images ({', '.join(IMAGE_SUFFIXES[:4])}...) found")
        return InputSet(files=tuple(str(p) for p in flat))
    files, labels = [], []
    for folder in classes:
        for image in _images(folder):
            files.append(str(image))
            labels.append(folder.name)
    if not files:
        raise UsageError(f"{what} {path}: the class folders hold no images")
    return InputSet(files=tuple(files), labels=tuple(labels))


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


def _csv_labelled(folder: Path, what: str) -> InputSet:
    files, labels = [], []
    with open(folder / LABELS_CSV, newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or (number == 1 and [c.strip().lower() for c in row[:2]] == ["file", "label"]):
                continue
            if len(row) < 2 or not (folder / row[0].strip()).is_file():
                raise UsageError(f"{what} {folder / LABELS_CSV} line {number}: expected 'file,label' "
                                 f"naming an image in {folder}")
            files.append(str(folder / row[0].strip()))
            labels.append(row[1].strip())
    if not files:
        raise UsageError(f"{what} {folder / LABELS_CSV}: no rows")
    return InputSet(files=tuple(files), labels=tuple(labels))


def _json_labelled(folder: Path, what: str) -> InputSet:
    try:
        mapping = json.loads((folder / LABELS_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{what} {folder / LABELS_JSON}: not readable JSON ({exc})") from None
    if not isinstance(mapping, dict) or not mapping:
        raise UsageError(f"{what} {folder / LABELS_JSON}: expected a non-empty object {{file name: label}}")
    missing = sorted(name for name in mapping if not (folder / name).is_file())
    if missing:
        raise UsageError(f"{what} {folder / LABELS_JSON} names images that are not there: {', '.join(missing[:5])}")
    names = sorted(mapping)
    return InputSet(files=tuple(str(folder / n) for n in names), labels=tuple(str(mapping[n]) for n in names))


def _npy_rows(path: Path, what: str) -> int:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{what} {path}: not a readable .npy array ({exc})") from None
    if array.ndim < 2 or array.shape[0] < 1:
        raise UsageError(f"{what} {path}: expected an array shaped (N, ...input item shape), got {array.shape}")
    return int(array.shape[0])


def split(inputs: InputSet, fraction: float = HELD_OUT_FRACTION) -> tuple[InputSet, InputSet]:
    """``(calibration, held_out)``: a fixed shuffle, ``fraction`` held out for the accuracy gate."""
    if len(inputs) < 2:
        raise UsageError("the calibration set needs at least 2 inputs to hold some out for the accuracy gate "
                         "(or give --eval)")
    order = np.random.RandomState(SPLIT_SEED).permutation(len(inputs)).tolist()
    held = max(1, int(round(len(inputs) * fraction)))
    return inputs.take(sorted(order[held:])), inputs.take(sorted(order[:held]))


# -- worker side: turning an InputSet into one float32 batch ---------------------------------------

Decoder = Callable[[bytes], np.ndarray]


def load_tensors(inputs: InputSet, item_shape: Sequence[int], decode: Optional[Decoder]) -> np.ndarray:
    """``(N, *item_shape)`` float32; images go through ``decode`` (the service's preprocessing)."""
    if inputs.npy:
        array = np.load(inputs.npy, mmap_mode="r", allow_pickle=False)
        batch = np.asarray(array[list(inputs.rows)], dtype=np.float32)
        if tuple(batch.shape[1:]) != tuple(item_shape):
            raise UsageError(f"{inputs.npy}: items are shaped {list(batch.shape[1:])} but the model's input "
                             f"is {list(item_shape)}")
        return batch
    if decode is None:
        raise UsageError("image inputs need a vision service handler to decode them the way the server does; "
                         "give tensors as a .npy file instead")
    items = []
    for name in inputs.files:
        try:
            items.append(decode(Path(name).read_bytes()))
        except UsageError:
            raise
        except Exception as exc:  # noqa: BLE001 - the service's RequestError and friends: name the file
            raise UsageError(f"{name}: the service cannot decode it: {exc}") from None
    return np.stack(items).astype(np.float32, copy=False)


def service_decoder(service_class: Any, signature_doc: dict) -> Decoder:
    """Decode request bytes with ``service_class``'s own ``preprocess`` (a vision service)."""
    from service_sdk.signature import parse_signature

    service = service_class()
    service.signature = parse_signature(signature_doc)  # what initialize() would have read from the folder
    service.check_signature(service.signature)

    def decode(data: bytes) -> np.ndarray:
        batch = service.preprocess([{"body": data}])
        if batch is None:
            raise UsageError("not an image the service accepts")
        return np.asarray(batch[0][0], dtype=np.float32)

    return decode


def label_indices(labels: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """Class index per label: by synset name, else a plain integer index."""
    lookup = {name: index for index, name in enumerate(classes)}
    out = []
    for label in labels:
        if label in lookup:
            out.append(lookup[label])
        elif label.isdigit() and int(label) < len(classes):
            out.append(int(label))
        else:
            raise UsageError(f"label {label!r} is neither a synset class nor a class index below {len(classes)}")
    return np.asarray(out, dtype=np.int64)

