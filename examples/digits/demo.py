"""Build the digits archive and print its predictions for held-out digits.

    python examples/digits/demo.py [--out build/digits-demo] [--count 4]

1. builds ``OUT/digits.mar`` from ``model/`` (the shipped checkpoint: no
   training needed) with ``model_archiver.build_archive`` and shows its
   inspection (manifest, files, compression, recorded digests, problems);
2. renders ``--count`` held-out digits as PNGs into ``OUT/inputs/``;
3. serves them as one batch with the local runner (the handler loaded in a
   child process exactly as an MMS worker loads it) and prints each answer.

Serve the same archive in Multi Model Server as shown in README.md.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_inputs import write_inputs  # noqa: E402

MODEL_DIR = HERE / "model"


def build(out: Path) -> Path:
    """Build (overwriting) ``out/digits.mar`` and return its path."""
    from model_archiver.config import build_from_config

    # Name, handler, version, description and serving settings live in model/model-archiver.toml.
    result = build_from_config(MODEL_DIR / "model-archiver.toml", export_path=out, force=True)
    return result.path


def describe(archive: Path) -> str:
    """What ``model-archiver inspect`` reports, condensed: manifest, files, problems."""
    from model_archiver import inspect_archive

    report = inspect_archive(archive)
    model = report.manifest["model"]
    lines = [f"  model {model['modelName']} {model.get('modelVersion', '')}, handler {model['handler']}, "
             f"{len(report.problems)} problem(s)"]
    lines += [f"  {f.size:>9}  {f.compression:<8} {(f.sha256 or '-')[:12]:<12}  {f.path}" for f in report.files]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build") / "digits-demo")
    parser.add_argument("--count", type=int, default=4, help="held-out digits to predict")
    args = parser.parse_args()

    from model_archiver.errors import ArchiverError
    from service_sdk.runner import run_archive

    try:
        archive = build(args.out)
        print(f"built {archive} ({archive.stat().st_size / 1000:.1f} kB)")
        print(describe(archive))
        labels = write_inputs(args.out / "inputs", args.count)
        inputs = [args.out / "inputs" / name for name in labels]
        result = run_archive(archive, inputs, batch_size=len(inputs))
    except ArchiverError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    correct = 0
    for path, response in zip(inputs, result.responses):
        answer = response.json()
        correct += response.ok and answer[0]["class"] == str(labels[path.name])
        print(f"{path.name}: HTTP {response.status} {json.dumps(answer)}")
    print(f"{correct}/{len(inputs)} correct (model loaded in {result.load_seconds:.2f}s, "
          f"batch predicted in {result.predict_seconds * 1000:.0f} ms)")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
