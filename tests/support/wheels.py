"""Tiny local wheels for the requirements tests, so nothing needs the network.

A pure-Python one, and one with a C extension compiled by setuptools' own
``build_ext`` (gcc, the interpreter's headers). The wheel is assembled by hand
(a zip with ``.dist-info/{METADATA,WHEEL,RECORD}``): the ``wheel`` package
that ``bdist_wheel`` needs is not part of the test environment.
"""
from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path


def pure_wheel(out: Path, name: str, version: str, source: str) -> Path:
    """A ``py3-none-any`` wheel holding the single module ``name``."""
    return _wheel(out, name, version, "py3-none-any", {f"{name}.py": source.encode()})


def c_extension_wheel(out: Path, name: str, version: str, c_source: str, work: Path) -> Path:
    """A wheel for this interpreter holding the compiled extension module ``name``."""
    work.mkdir(parents=True, exist_ok=True)
    (work / f"{name}.c").write_text(c_source)
    (work / "setup.py").write_text(textwrap.dedent(f"""
        from setuptools import Extension, setup
        setup(name={name!r}, version={version!r}, ext_modules=[Extension({name!r}, [{name + '.c'!r}])])
    """))
    done = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=work,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    library = work / f"{name}{suffix}"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    return _wheel(out, name, version, f"{tag}-{tag}-{platform}", {library.name: library.read_bytes()})


def _wheel(out: Path, name: str, version: str, tag: str, files: dict[str, bytes]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    info = f"{name}-{version}.dist-info"
    files = dict(files)
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    files[f"{info}/WHEEL"] = (f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: "
                              f"{'true' if tag.endswith('none-any') else 'false'}\nTag: {tag}\n").encode()
    record = [f"{path},sha256={_digest(data)},{len(data)}" for path, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join(record + [f"{info}/RECORD,,"]) + "\n").encode()
    path = out / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zipped:
        for arcname, data in files.items():
            zipped.writestr(arcname, data)
    return path


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
