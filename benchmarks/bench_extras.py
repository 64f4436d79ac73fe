"""What signing, verifying and vendoring a requirement cost on the ResNet-152 example (RANDOM weights).

    python benchmarks/bench_extras.py [--out build/bench-extras] [--repeat 3]

Exports ResNet-152 (random weights, ~240 MB of params), then times, fastest of
``--repeat`` runs, each against the plain build measured in the same run:
build; build --sign-key; verify (RECORD); verify --public-key (RECORD +
signature); sign of the existing archive; build --requirements with one local
pure-Python wheel (no network: pip --no-index). Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "examples" / "resnet-152-eia"))
sys.path.insert(0, str(REPO))


def fastest(repeat: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build") / "bench-extras")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from export_model import export_model

    from model_archiver import build_archive, verify_archive
    from model_archiver.signing import SigningIdentity, TrustAnchor, sign_archive, verify_signature
    from tests.support.pki import key_pair
    from tests.support.wheels import pure_wheel

    out = args.out
    model = out / "model"
    if not (model / "resnet-152-0000.params").exists():
        export_model(model)
    keys = key_pair(out / "keys")
    pure_wheel(out / "wheels", "greetpkg", "0.3", 'def greet(name):\n    return "hello " + name\n')
    requirements = out / "requirements.txt"
    requirements.write_text(f"--no-index\n--find-links {out / 'wheels'}\ngreetpkg==0.3\n")
    common = dict(model_name="resnet-152", handler="resnet_152_service:handle", force=True, validate=False)
    identity = SigningIdentity(key=keys.private)

    plain = out / "plain"
    signed = out / "signed"
    rows = {
        "build": fastest(args.repeat, lambda: build_archive(model, export_path=plain, **common)),
        "build --sign-key": fastest(args.repeat, lambda: build_archive(model, export_path=signed, signing=identity,
                                                                       **common)),
        "build --requirements (1 local wheel)": fastest(args.repeat, lambda: build_archive(
            model, export_path=out / "reqs", requirements=requirements, **common)),
    }
    archive = signed / "resnet-152.mar"
    rows["verify (RECORD only)"] = fastest(args.repeat, lambda: verify_archive(archive))
    rows["verify --public-key (signature)"] = fastest(
        args.repeat, lambda: verify_signature(archive, TrustAnchor(public_key=keys.public)))
    rows["sign (existing archive, rewritten)"] = fastest(args.repeat, lambda: sign_archive(archive, identity))
    size = archive.stat().st_size / 1e6
    base = rows["build"]
    print(f"ResNet-152 (random weights), {size:.0f} MB archive, fastest of {args.repeat}\n")
    print("| step | seconds | vs plain build |\n|---|---|---|")
    for name, seconds in rows.items():
        print(f"| {name} | {seconds:.2f} | {seconds / base:.2f}x |")


if __name__ == "__main__":
    main()
