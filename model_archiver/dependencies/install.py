"""``pip install --target`` a requirements file into a folder that becomes the archive's ``lib/``.

pip resolves and installs; we only drive it (in a subprocess, with the build's
own interpreter) and read its ``--report`` to record exactly what went in:
each package's name, version, where it came from and its sha256, stored in
the manifest so a reviewer sees the resolved set without opening ``lib/``.
``--platform``/``--python-version``/``--only-binary`` pass through for a
server that differs from the build machine (pip then needs binary wheels).
"""
from __future__ import annotations

import json
import logging
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from model_archiver.dependencies.bootstrap import LIB_DIR
from model_archiver.errors import UsageError

log = logging.getLogger(__name__)

# Installed by pip --target but useless or harmful inside an archive: console
# scripts point at the build machine's interpreter; byte code is rebuilt on load.
_SKIPPED_PARTS = {"__pycache__", "bin"}
PIP_TIMEOUT_S = 1800  # a resolver stuck on a slow index, or a nested `-r /dev/zero`, ends here


@dataclass(frozen=True)
class PipOptions:
    """Passed to pip for a server that differs from the build machine."""

    platforms: Sequence[str] = ()
    python_version: str | None = None
    only_binary: str | None = None

    def arguments(self) -> list[str]:
        args = [arg for platform in self.platforms for arg in ("--platform", platform)]
        if self.python_version:
            args += ["--python-version", self.python_version]
        if self.only_binary:
            args += ["--only-binary", self.only_binary]
        return args

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.platforms:
            out["platform"] = list(self.platforms)
        if self.python_version:
            out["python_version"] = self.python_version
        if self.only_binary:
            out["only_binary"] = self.only_binary
        return out


@dataclass(frozen=True)
class VendoredRequirements:
    """What :func:`install_requirements` produced: files for ``lib/`` and the manifest record."""

    files: dict[str, Path]
    packages: list[dict[str, Any]] = field(default_factory=list)
    pip_options: dict[str, Any] = field(default_factory=dict)


def _pip_reason(output: str) -> str:
    """pip's own one-line reason (its last ``ERROR:`` line), not the traceback around it."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    errors = [line[len("ERROR:"):].strip() for line in lines if line.startswith("ERROR:")]
    # "ERROR: Exception:" heads a traceback: its last line is the reason then.
    reason = errors[-1] if errors and not errors[-1].endswith(":") else (lines[-1] if lines else "no output")
    return reason if len(reason) <= 300 else reason[:297] + "..."


def install_requirements(requirements: Path, work_dir: Path, options: PipOptions = PipOptions()) -> VendoredRequirements:
    """Install ``requirements`` into ``work_dir/lib`` and return ``lib/...`` archive names and the resolved set.

    pip runs in the requirements file's folder, so relative paths and
    ``--find-links`` lines in it mean what they mean to the user.
    """
    requirements = Path(requirements).absolute()
    if not requirements.is_file():
        raise UsageError(f"--requirements: {requirements} is not a file")
    Path(work_dir).mkdir(parents=True, exist_ok=True)
    target = Path(work_dir) / LIB_DIR
    report = Path(work_dir) / "pip-report.json"
    command = [sys.executable, "-m", "pip", "install", "--target", str(target), "--no-compile",
               "--disable-pip-version-check", "--no-input", "--report", str(report),
               "-r", str(requirements), *options.arguments()]
    log.info("installing %s into the archive's %s/", requirements, LIB_DIR)
    try:
        done = subprocess.run(command, cwd=requirements.parent, capture_output=True, text=True,
                              timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise UsageError(f"pip did not finish installing {requirements.name} in {PIP_TIMEOUT_S} s") from None
    if done.returncode != 0:
        raise UsageError(f"pip could not install {requirements.name}: {_pip_reason(done.stderr or done.stdout)}")
    packages = _resolved(json.loads(report.read_text("utf-8")))
    return VendoredRequirements(_lib_files(target), packages, options.to_dict())


def _resolved(report: dict[str, Any]) -> list[dict[str, Any]]:
    """``name``, ``version``, ``source`` and ``sha256`` of every installed distribution, sorted by name."""
    packages = []
    for item in report.get("install", []):
        metadata = item.get("metadata", {})
        info = item.get("download_info", {})
        hashes = info.get("archive_info", {}).get("hashes", {})
        entry = {"name": metadata.get("name"), "version": metadata.get("version"), "source": info.get("url")}
        if "sha256" in hashes:
            entry["sha256"] = hashes["sha256"]
        packages.append(entry)
    return sorted(packages, key=lambda p: str(p["name"]).lower())


def _lib_files(target: Path) -> dict[str, Path]:
    if not target.is_dir():
        return {}
    return {
        f"{LIB_DIR}/{path.relative_to(target).as_posix()}": path
        for path in sorted(target.rglob("*"))
        if path.is_file() and not _SKIPPED_PARTS & set(path.relative_to(target).parts) and path.suffix != ".pyc"
    }
