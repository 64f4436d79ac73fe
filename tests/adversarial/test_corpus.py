"""Every hostile input in the corpus ends in its documented exit code and one clear line.

Per case: the exit code is one the case allows (never 70, never a signal),
the message matches, there is no traceback, stderr ends in one
``model-archiver: error:`` line (inspect/verify may list their findings
first), nothing was written in or outside the case folder except an empty
export folder, nothing is left in TMPDIR, and time and peak RSS stayed
bounded. The cases run four at a time (they mostly wait on process
start-up), once per session.
"""
from __future__ import annotations

import collections
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.adversarial.corpus import CASES, Case
from tests.adversarial.runner import MAX_RSS_BYTES, Outcome, run_case

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore:Duplicate name")]
_IDS = [case.id for case in CASES]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome | BaseException]:
    root = tmp_path_factory.mktemp("corpus")

    def one(case: Case) -> Outcome | BaseException:
        try:
            return run_case(case, root / case.id)
        except Exception as exc:  # noqa: BLE001 - reported by the case's own test
            return exc

    with ThreadPoolExecutor(4) as pool:
        return dict(zip(_IDS, pool.map(one, CASES)))


def test_corpus_size_and_classes() -> None:
    classes = collections.Counter(case.cls for case in CASES)
    assert len(CASES) >= 150
    assert len(set(_IDS)) == len(_IDS)
    assert set(classes) >= {"name", "special", "corrupt", "json", "model-file", "limits", "folder", "output",
                            "run-input", "import"}


@pytest.mark.parametrize("case", CASES, ids=_IDS)
def test_hostile_input(case: Case, outcomes: dict[str, Outcome | BaseException]) -> None:
    outcome = outcomes[case.id]
    if isinstance(outcome, BaseException):
        raise outcome
    where = f"{case.id}: exit {outcome.code}, stderr:\n{outcome.stderr[-2000:]}"
    assert outcome.code in case.codes, where
    assert "Traceback" not in outcome.stderr and "Traceback" not in outcome.stdout, where
    if outcome.code:
        lines = outcome.stderr.strip().splitlines()
        assert lines and lines[-1].startswith("model-archiver: error: "), where
        assert all(len(line) < 2000 for line in lines), where
    if case.message:
        assert re.search(case.message, outcome.stdout + outcome.stderr), where
    assert not outcome.before - outcome.after, f"{case.id} deleted {sorted(outcome.before - outcome.after)[:5]}"
    created = outcome.after - outcome.before
    assert created <= {"work/out"}, f"{case.id} wrote {sorted(created)[:5]}"
    assert not outcome.tmp_left, f"{case.id} left {outcome.tmp_left} in TMPDIR"
    assert outcome.seconds < case.seconds, where
    assert outcome.max_rss < MAX_RSS_BYTES, f"{case.id}: peak RSS {outcome.max_rss >> 20} MiB"
