"""Render held-out digits (never seen in training) as 8x8 greyscale PNGs.

    python examples/digits/make_inputs.py OUT_DIR [--count 100]

Each file is named ``NNNN-label-D.png`` so a client can check answers;
``labels.json`` maps file name to label as well.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from digits_data import load_split, render_png  # noqa: E402


def write_inputs(out: Path, count: int | None = None) -> dict[str, int]:
    """Write the first ``count`` held-out digits (all when None); return {file name: label}."""
    split = load_split()
    total = len(split.y_test) if count is None else min(count, len(split.y_test))
    out.mkdir(parents=True, exist_ok=True)
    labels: dict[str, int] = {}
    for index in range(total):
        label = int(split.y_test[index])
        name = f"{index:04d}-label-{label}.png"
        (out / name).write_bytes(render_png(split.x_test[index]))
        labels[name] = label
    (out / "labels.json").write_text(json.dumps(labels, indent=1) + "\n")
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=None, help="how many (default: all held-out)")
    args = parser.parse_args()
    labels = write_inputs(args.out, args.count)
    print(f"wrote {len(labels)} PNGs and labels.json to {args.out}")


if __name__ == "__main__":
    main()
