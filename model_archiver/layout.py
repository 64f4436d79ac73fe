"""Names fixed by the archive format, shared by writers and readers."""
from __future__ import annotations

import re

MAR_INF = "MAR-INF"
MANIFEST_NAME = "MANIFEST.json"
MANIFEST_PATH = f"{MAR_INF}/{MANIFEST_NAME}"
# Per-file sha256 and size of every other entry, in the spirit of a wheel's
# RECORD. MMS ignores unknown files, so it travels inside the archive.
RECORD_PATH = f"{MAR_INF}/RECORD.json"
# OpenSSF model-signing signature over every other entry (RECORD included), so RECORD cannot list it.
SIGNATURE_PATH = f"{MAR_INF}/model.sig"

# MMS's own rule for model names (model-archiver 1.0.x).
MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-.]*$")
# A handler MMS can import: module path (".py" optional) and an optional function.
HANDLER_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./]*(\.py)?(:[A-Za-z_][A-Za-z0-9_]*)?$")

ARCHIVE_SUFFIXES = {"default": ".mar", "tgz": ".tar.gz", "no-archive": ""}
