"""The one timestamp every entry gets, so archives are byte-reproducible.

``SOURCE_DATE_EPOCH`` (reproducible-builds.org) wins; otherwise 1980-01-01, the
earliest date a zip entry can carry. Converted in UTC so the machine's time
zone never leaks into the bytes.
"""
from __future__ import annotations

import os
import time

from model_archiver.errors import UsageError

ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z


def build_epoch() -> int:
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None or raw == "":
        return ZIP_EPOCH
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(f"SOURCE_DATE_EPOCH must be an integer number of seconds, got {raw!r}") from None
    return max(value, ZIP_EPOCH)


def zip_date_time(epoch: int) -> tuple[int, int, int, int, int, int]:
    moment = time.gmtime(epoch)
    return (moment.tm_year, moment.tm_mon, moment.tm_mday, moment.tm_hour, moment.tm_min, moment.tm_sec)
