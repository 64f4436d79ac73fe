"""The licensed test photos (kitten, dogs, MNIST digits...) that ship beside the repo.

They live in ``shared/assets/images`` next to the checkout (where CI puts a
copy); ``MODEL_ARCHIVER_TEST_IMAGES`` points elsewhere. A missing folder is a
failure, not a skip: CI always has it.
"""
from __future__ import annotations

import os
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]
_CANDIDATES = [
    *([Path(os.environ["MODEL_ARCHIVER_TEST_IMAGES"])] if os.environ.get("MODEL_ARCHIVER_TEST_IMAGES") else []),
    _REPO.parent / "shared" / "assets" / "images",
]


def images_dir() -> Path:
    for folder in _CANDIDATES:
        if (folder / "LICENSES.md").is_file():
            return folder
    raise FileNotFoundError(f"test images not found in {[str(c) for c in _CANDIDATES]}; "
                            "set MODEL_ARCHIVER_TEST_IMAGES")


def asset(name: str) -> Path:
    """The path of one test image."""
    return images_dir() / name
