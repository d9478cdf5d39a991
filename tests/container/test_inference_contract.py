"""`docker run IMAGE serve` against the SageMaker inference contract."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from support import extracted_model, session_scope, start_server

from harness.emulator.inference_client import InferenceClient, wait_until_healthy
from harness.engine.docker import ContainerSpec, Engine, Mount, Scope
from harness.project.images import ImageKind

SIX_MB = 6 * 1024 * 1024


@pytest.fixture(scope="module")
def server(
    trained: Path, engine: Engine, images: dict, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InferenceClient]:
    model_dir = extracted_model(trained, tmp_path_factory.mktemp("model"))
    with session_scope(engine) as module_scope:
        client, _ = start_server(module_scope, images[ImageKind.INFERENCE], model_dir)
        yield client
        client.close()


def test_ping_answers_200_within_two_seconds(server: InferenceClient) -> None:
    reply = server.ping(timeout_s=2.0)
    assert reply.status == 200


@pytest.mark.parametrize("name", ["single_row.csv", "batch.csv", "single_row.json", "batch.json"])
def test_every_fixture_payload(server: InferenceClient, fixtures_dir: Path, name: str) -> None:
    content_type = "text/csv" if name.endswith(".csv") else "application/json"
    reply = server.invoke((fixtures_dir / "payloads" / name).read_bytes(), content_type)
    assert reply.status == 200, reply.text()
    assert reply.content_type.startswith(content_type)
    rows = 1 if name.startswith("single") else 10
    if content_type == "text/csv":
        assert len(reply.text().split()) == rows
    else:
        assert len(json.loads(reply.body)["predictions"]) == rows


def test_csv_and_json_agree_and_accept_is_honoured(server: InferenceClient, fixtures_dir: Path) -> None:
    as_csv = server.invoke((fixtures_dir / "payloads" / "batch.csv").read_bytes(), "text/csv").text().split()
    reply = server.invoke(
        (fixtures_dir / "payloads" / "batch.json").read_bytes(), "application/json", accept="text/csv"
    )
    assert reply.content_type.startswith("text/csv")
    assert reply.text().split() == as_csv


BAD_INPUTS = [
    ("malformed CSV", b'1,2,"unclosed\n', "text/csv", 400, "columns"),
    ("wrong column count", b"1.0,2.0,3.0\n", "text/csv", 400, "the model expects 30"),
    ("non-numeric value", b",".join([b"1.0"] * 29 + [b"abc"]), "text/csv", 400, "non-numeric value: 'abc'"),
    ("empty body", b"", "text/csv", 400, "empty request body"),
    ("malformed JSON", b"[1, 2", "application/json", 400, "malformed JSON"),
    ("unknown content type", b"hello", "application/x-protobuf", 415, "unsupported Content-Type"),
    ("payload over 6 MB", b"1," * (SIX_MB // 2 + 1), "text/csv", 413, "6 MB limit"),
    ("JSON nested 10000 deep", b"[" * 10_000 + b"]" * 10_000, "application/json", 400, "nested 10000 levels deep"),
    ("5000-digit integer", b"[1" + b"0" * 5000 + b", 1" * 29 + b"]", "application/json", 400, "finite numbers"),
    ("ragged JSON rows", b"[[" + b"1," * 29 + b"1], [1]]", "application/json", 400, "JSON row 2 has 1 features"),
]


@pytest.mark.parametrize(
    ("case", "body", "content_type", "status", "needle"), BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS]
)
def test_bad_input_gets_a_named_4xx_and_the_server_stays_healthy(
    server: InferenceClient, case: str, body: bytes, content_type: str, status: int, needle: str
) -> None:
    reply = server.invoke(body, content_type)
    assert reply.status == status, reply.text()
    assert needle in json.loads(reply.body)["error"]
    assert server.ping().status == 200


def test_deep_json_on_every_worker_thread_leaves_the_server_serving(
    server: InferenceClient, fixtures_dir: Path
) -> None:
    """Each worker thread parses a 6 MB-limit-sized nested document, then every one still predicts."""
    nested = b"[" * 1_000_000 + b"]" * 1_000_000
    valid = (fixtures_dir / "payloads" / "single_row.json").read_bytes()
    for _ in range(8):  # more requests than workers x threads on the test machines
        reply = server.invoke(nested, "application/json")
        assert reply.status == 400 and "levels deep" in json.loads(reply.body)["error"]
    assert server.ping().status == 200
    assert all(server.invoke(valid, "application/json").status == 200 for _ in range(8))


def test_kept_alive_connections_are_closed_now_and_then_to_rebalance_workers(
    server: InferenceClient, fixtures_dir: Path
) -> None:
    """Every 32nd request a worker serves answers `Connection: close`; a client reconnecting loses nothing."""
    body = (fixtures_dir / "payloads" / "single_row.csv").read_bytes()
    port = int(server.base_url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    statuses, closes = [], 0
    try:
        for _ in range(100):
            conn.request("POST", "/invocations", body=body, headers={"Content-Type": "text/csv"})
            response = conn.getresponse()
            response.read()
            statuses.append(response.status)
            closes += response.getheader("Connection", "").lower() == "close"  # http.client reconnects by itself
    finally:
        conn.close()
    assert statuses == [200] * 100
    assert 2 <= closes <= 100 // 16  # one worker: every 32nd; two: every 32nd of each


def test_payload_near_the_six_megabyte_limit_is_served(server: InferenceClient, fixtures_dir: Path) -> None:
    row = (fixtures_dir / "payloads" / "single_row.csv").read_bytes().strip() + b"\n"
    body = row * ((SIX_MB - 4096) // len(row))
    reply = server.invoke(body, "text/csv")
    assert reply.status == 200
    assert len(reply.text().split()) == body.count(b"\n")


def test_image_declares_bind_to_port(engine: Engine, images: dict) -> None:
    labels = engine.image(images[ImageKind.INFERENCE]).labels
    assert labels["com.amazonaws.sagemaker.capabilities.accept-bind-to-port"] == "true"


def test_listens_on_sagemaker_bind_to_port(trained: Path, tmp_path: Path, scope: Scope, images: dict) -> None:
    client, _ = start_server(
        scope,
        images[ImageKind.INFERENCE],
        extracted_model(trained, tmp_path),
        port=9123,
        environment={"SAGEMAKER_BIND_TO_PORT": "9123"},
    )
    assert client.ping().status == 200


def test_sigterm_stops_the_server_within_thirty_seconds(
    trained: Path, tmp_path: Path, scope: Scope, images: dict
) -> None:
    spec = ContainerSpec(
        image=images[ImageKind.INFERENCE],
        command=("serve",),
        ports=(8080,),
        mounts=(Mount(extracted_model(trained, tmp_path), "/opt/ml/model", read_only=True),),
    )
    container = scope.start(spec)
    client = InferenceClient(container.host_port(8080))
    wait_until_healthy(container, client, port=8080)
    started = time.monotonic()
    container.signal("SIGTERM")
    code = container.wait(timeout_s=30)
    assert time.monotonic() - started < 30
    assert code == 0, container.logs_tail()
    with pytest.raises(requests.ConnectionError):
        client.ping(timeout_s=1)


def test_model_from_other_library_versions_is_refused(
    trained: Path, tmp_path: Path, scope: Scope, images: dict
) -> None:
    model_dir = extracted_model(trained, tmp_path)
    meta = json.loads((model_dir / "metadata.json").read_text())
    meta["libraries"]["scikit-learn"] = "1.2.2"
    (model_dir / "metadata.json").write_text(json.dumps(meta))
    spec = ContainerSpec(
        image=images[ImageKind.INFERENCE],
        command=("serve",),
        ports=(8080,),
        mounts=(Mount(model_dir, "/opt/ml/model", read_only=True),),
    )
    container = scope.start(spec)
    client = InferenceClient(container.host_port(8080))
    reply = None
    for _ in range(200):  # up to ~10 s for the server to listen
        try:
            reply = client.ping()
            break
        except requests.ConnectionError:
            time.sleep(0.05)
    assert reply is not None and reply.status == 503
    assert "scikit-learn: model trained with 1.2.2" in json.loads(reply.body)["error"]
    assert "library versions differ" in container.logs()
