"""Read a zip with Java's ZipInputStream, the reader MMS's frontend uses."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SOURCE = Path(__file__).with_name("java") / "ZipStreamList.java"


def java_available() -> bool:
    return shutil.which("java") is not None


def list_with_zip_input_stream(archive: Path) -> dict[str, int]:
    """``entry name -> bytes read`` as Java sees them; raises CalledProcessError on a Java error."""
    done = subprocess.run(["java", str(SOURCE), str(archive)], capture_output=True, text=True, check=True,
                          timeout=600)
    rows = (line.split("\t") for line in done.stdout.splitlines() if line)
    return {name: int(size) for name, size in rows}
