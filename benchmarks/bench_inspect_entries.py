"""inspect and verify are linear in the entry count (issue 9: 100,000 entries in a few seconds).

Builds archives of N tiny entries with the real builder (zip and tar.gz), then
times `inspect --no-validate`, `inspect` and `verify` through the library, next
to a baseline measured in the same run: the standard library merely listing
the same archive (zipfile.infolist / tarfile.getmembers). Prints seconds,
the ratio to the baseline and microseconds per entry (flat = linear).

    .venv/bin/python benchmarks/bench_inspect_entries.py [N ...]
"""
from __future__ import annotations

import resource
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

from model_archiver import build_archive, inspect_archive, verify_archive


def _timed(func) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    func()
    return time.perf_counter() - started


def _model(root: Path, count: int) -> Path:
    model = root / f"model-{count}"
    model.mkdir()
    (model / "service.py").write_text("def handle(data, context):\n    return data\n")
    for index in range(count):
        folder = model / f"d{index // 1000:03d}"
        folder.mkdir(exist_ok=True)
        (folder / f"f{index}.txt").write_text(str(index))
    return model


def main(counts: list[int]) -> None:
    print(f"{'archive':<8} {'entries':>8} {'baseline':>9} {'listing':>9} {'inspect':>9} {'verify':>9} "
          f"{'verify/base':>11} {'us/entry (verify)':>18}")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        for count in counts:
            model = _model(root, count)
            for fmt, lister in (("default", lambda p: zipfile.ZipFile(p).infolist()),
                                ("tgz", lambda p: tarfile.open(p).getmembers())):
                path = build_archive(model, model_name="m", handler="service:handle", export_path=root / fmt,
                                     archive_format=fmt, force=True, validate=False).path
                base = min(_timed(lambda: lister(path)) for _ in range(2))
                listing = _timed(lambda: inspect_archive(path, validate=False))
                full = _timed(lambda: inspect_archive(path))
                verify = _timed(lambda: verify_archive(path))
                print(f"{fmt:<8} {count:>8} {base:>8.2f}s {listing:>8.2f}s {full:>8.2f}s {verify:>8.2f}s "
                      f"{verify / base:>10.1f}x {verify / count * 1e6:>17.1f}")
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10} MiB")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [2000, 8000, 100_000])
