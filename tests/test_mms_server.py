"""The real Multi Model Server against archives our builder writes: the server contract.

Plain handler modules (no MXNet) keep these fast; the model examples are tested
through the server in test_mms_examples.py. One server serves the whole module;
each test registers its own model under its own name.
"""
from __future__ import annotations

import hashlib
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from model_archiver import build_archive
from tests.support.mms import MMSServer, java_missing_reason, running_server

pytestmark = pytest.mark.skipif(java_missing_reason() is not None, reason=java_missing_reason() or "")

# Answers each request with the digest of its own body, the batch it arrived in
# and the worker's pid, so a test can tell which request got which answer.
ECHO_HANDLER = '''
import hashlib, json, os

def handle(data, context):
    if data is None:
        return None
    return [json.dumps({"sha256": hashlib.sha256(row.get("body") or row.get("data") or b"").hexdigest(),
                        "batch": len(data), "pid": os.getpid()})
            for row in data]
'''

BROKEN_IMPORT_HANDLER = '''
raise ImportError("digits_preprocessing is missing: model-archiver-test-marker-42")

def handle(data, context):
    return data
'''


def build(tmp_path: Path, name: str, handler_source: str, **options) -> Path:
    """An archive holding one handler module, built by our builder."""
    module = f"{name.replace('-', '_')}_handler"
    model_dir = tmp_path / f"{name}-src"
    model_dir.mkdir()
    (model_dir / f"{module}.py").write_text(textwrap.dedent(handler_source))
    result = build_archive(model_dir, model_name=name, handler=f"{module}:handle", export_path=tmp_path / "out",
                           **options)
    return result.path


@pytest.fixture(scope="module")
def mms(tmp_path_factory) -> MMSServer:
    with running_server(tmp_path_factory.mktemp("mms-server")) as server:
        yield server


def post_all(server: MMSServer, name: str, bodies: list[bytes], workers: int = 8) -> list:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda body: server.predict(name, body), bodies))


def test_archive_from_our_builder_is_served(mms, tmp_path):
    name = mms.serve(build(tmp_path, "echo", ECHO_HANDLER))
    response = mms.predict(name, b"hello")
    assert response.status == 200, mms.explain(response)
    assert response.json()["sha256"] == hashlib.sha256(b"hello").hexdigest()


@pytest.mark.parametrize("name,options", [
    ("echo-stored", {"compression_policy": "store"}),  # every entry stored, the manifest too
    ("echo-folder", {"archive_format": "no-archive", "runtime": "python3"}),  # served from the folder as is
])
def test_stored_zip_and_unarchived_folder_are_served(mms, tmp_path, name, options):
    served = mms.serve(build(tmp_path, name, ECHO_HANDLER, **options))
    response = mms.predict(served, b"stored")
    assert response.status == 200, mms.explain(response)
    assert response.json()["sha256"] == hashlib.sha256(b"stored").hexdigest()


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(mms, tmp_path):
    name = mms.serve(build(tmp_path, "echo-batched", ECHO_HANDLER), batch_size=4, max_batch_delay=200)
    bodies = [f"request {i}".encode() * (i + 1) for i in range(24)]
    responses = post_all(mms, name, bodies)
    for body, response in zip(bodies, responses):
        assert response.status == 200, mms.explain(response)
        assert response.json()["sha256"] == hashlib.sha256(body).hexdigest()
    batches = [response.json()["batch"] for response in responses]
    assert max(batches) > 1, f"the server never batched: {batches}"
    assert max(batches) <= 4


def test_scaling_from_one_to_two_workers(mms, tmp_path):
    name = mms.serve(build(tmp_path, "echo-scaled", ECHO_HANDLER), initial_workers=1)
    assert len(mms.describe(name)["workers"]) == 1
    scaled = mms.scale(name, 2)
    assert scaled.status == 200, mms.explain(scaled)
    workers = mms.describe(name)["workers"]
    assert [worker["status"] for worker in workers] == ["READY", "READY"]
    pids = {response.json()["pid"] for response in post_all(mms, name, [b"x"] * 40)}
    assert len(pids) == 2, f"expected both workers to answer, saw pids {pids}"


def test_handler_import_error_fails_registration_with_our_message_in_the_log(mms, tmp_path):
    archive = build(tmp_path, "broken-import", BROKEN_IMPORT_HANDLER)
    response = mms.register(mms.add_archive(archive), response_timeout=30)
    assert response.status == 500, mms.explain(response)
    assert "model-archiver-test-marker-42" in mms.log_text(), mms.logs_excerpt()
    assert "broken-import" not in {model["modelName"] for model in mms.list_models()}


def test_stopping_leaves_no_process_behind(tmp_path):
    with running_server(tmp_path / "short-lived") as server:
        server.serve(build(tmp_path, "echo-stop", ECHO_HANDLER), initial_workers=2)
        tree = server.process_tree()
        assert len(tree) >= 4  # launcher, Java frontend, two workers
    survivors = [proc.pid for proc in tree if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE]
    assert survivors == []
