"""Export ResNet-152 (RANDOM weights), build ``resnet-152.mar`` and predict ``kitten.jpg``.

    python examples/resnet-152-eia/build_archive.py [--out build/resnet-152-eia] [--image PHOTO]

1. exports the network with random weights into ``OUT/model/`` (see
   ``export_model.py``: no ImageNet weights can be downloaded here, so the
   classes it names are meaningless; the labels are placeholders too);
2. builds ``OUT/resnet-152.mar`` (about 230 MB; the params are stored, not
   deflated, so MMS unpacks them quickly);
3. runs the photo through the archive's handler with the local runner and
   prints the top-5 JSON answer.

Serve the archive in Multi Model Server as shown in README.md.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from export_model import export_model  # noqa: E402

DEFAULT_IMAGE = HERE.parents[2] / "shared" / "assets" / "images" / "kitten.jpg"


def build(model_dir: Path, out: Path) -> Path:
    """Build (overwriting) ``out/resnet-152.mar`` from an exported model dir; return its path."""
    from model_archiver.config import build_from_config

    # Name, handler, version, description and serving settings: model/model-archiver.toml (exported with the model).
    result = build_from_config(model_dir / "model-archiver.toml", export_path=out, force=True)
    return result.path


def check_image(image: Path) -> str | None:
    """Why ``image`` cannot be predicted, or None: checked before the 242 MB export and build, not after."""
    from PIL import Image, UnidentifiedImageError

    if not image.exists():
        return f"--image {image} does not exist; pass --image PHOTO (a JPEG or PNG file)"
    try:
        with Image.open(image) as picture:
            picture.verify()
    except (OSError, UnidentifiedImageError) as exc:
        return f"--image {image} is not a readable image ({exc}); pass --image PHOTO (a JPEG or PNG file)"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build") / "resnet-152-eia")
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE,
                        help="photo to classify (default: the shared test kitten beside the repository)")
    args = parser.parse_args()
    problem = check_image(args.image)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2

    from model_archiver.errors import ArchiverError
    from service_sdk.runner import run_archive

    try:
        archive = build(export_model(args.out / "model"), args.out)
        print(f"built {archive} ({archive.stat().st_size / 1e6:.0f} MB) - random weights, placeholder labels")
        result = run_archive(archive, [args.image], batch_size=1)
    except ArchiverError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    response = result.responses[0]
    print(f"{args.image.name}: HTTP {response.status}")
    print(json.dumps(response.json(), indent=2))
    return 0 if response.ok else 1


if __name__ == "__main__":
    sys.exit(main())
