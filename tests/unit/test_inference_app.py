"""The Flask app in-process, on a model trained by the real training job."""

import json
import shutil
from pathlib import Path

import inference_app
import pytest
import train
from flask.testing import FlaskClient
from serve import ServerSettings

LIMIT = 6 * 1024 * 1024


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, fixtures_dir: Path) -> Path:
    base = tmp_path_factory.mktemp("ml")
    (base / "input" / "data" / "train").mkdir(parents=True)
    shutil.copy(fixtures_dir / "data" / "train" / "train_data.csv", base / "input" / "data" / "train")
    assert train.main(["train"], base=base) == 0
    return base / "model"


def client_for(model_dir: Path) -> FlaskClient:
    app = inference_app.create_app(inference_app.load(model_dir), LIMIT, {"BatchStrategy": "MULTI_RECORD"})
    return app.test_client()


def test_ping_is_healthy_once_the_model_is_loaded(model_dir: Path) -> None:
    assert client_for(model_dir).get("/ping").status_code == 200


@pytest.mark.parametrize("name", ["single_row.csv", "batch.csv", "single_row.json", "batch.json"])
def test_every_fixture_payload_is_answered(model_dir: Path, fixtures_dir: Path, name: str) -> None:
    body = (fixtures_dir / "payloads" / name).read_bytes()
    content_type = "text/csv" if name.endswith(".csv") else "application/json"
    rows = 1 if name.startswith("single") else 10
    reply = client_for(model_dir).post("/invocations", data=body, content_type=content_type)
    assert reply.status_code == 200
    assert reply.mimetype == content_type
    if content_type == "text/csv":
        assert len(reply.get_data(as_text=True).split()) == rows
    else:
        assert len(reply.get_json()["predictions"]) == rows


def test_accept_header_is_honoured(model_dir: Path, fixtures_dir: Path) -> None:
    body = (fixtures_dir / "payloads" / "batch.csv").read_bytes()
    reply = client_for(model_dir).post(
        "/invocations", data=body, content_type="text/csv", headers={"Accept": "application/json"}
    )
    assert reply.mimetype == "application/json"
    assert {p["label"] for p in reply.get_json()["predictions"]} <= {0, 1}


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"1,2,3", "text/csv", 400),
        (b"", "text/csv", 400),
        (b"a,b", "application/x-unknown", 415),
        (b"0," * (LIMIT // 2 + 1), "text/csv", 413),
    ],
)
def test_bad_input_gets_a_json_4xx_and_the_server_stays_healthy(
    model_dir: Path, body: bytes, content_type: str, status: int
) -> None:
    client = client_for(model_dir)
    reply = client.post("/invocations", data=body, content_type=content_type)
    assert reply.status_code == status
    assert reply.get_json()["error"]
    assert client.get("/ping").status_code == 200


def test_version_mismatch_keeps_the_model_unloaded(model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    meta = json.loads((copy / "metadata.json").read_text())
    meta["libraries"]["numpy"] = "1.0.0"
    (copy / "metadata.json").write_text(json.dumps(meta))
    client = client_for(copy)
    ping = client.get("/ping")
    assert ping.status_code == 503
    assert "numpy: model trained with 1.0.0" in ping.get_json()["error"]
    assert client.post("/invocations", data=b"1", content_type="text/csv").status_code == 503


def test_missing_model_is_unhealthy(tmp_path: Path) -> None:
    assert client_for(tmp_path).get("/ping").status_code == 503


def test_server_settings_follow_sagemaker_variables() -> None:
    settings = ServerSettings.from_env({"SAGEMAKER_BIND_TO_PORT": "9090", "SAGEMAKER_MODEL_SERVER_WORKERS": "3"})
    assert settings.port == 9090 and settings.workers == 3 and settings.max_payload_mb == 6
    assert settings.gunicorn_options()["bind"] == "0.0.0.0:9090"
    batch = ServerSettings.from_env({"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "50"})
    assert batch.max_payload_mb == 50 and ServerSettings.from_env({}).port == 8080


def _row(cells: list[str]) -> bytes:
    return ("[" + ",".join(cells) + "]").encode()


def _csv(cells: list[str]) -> bytes:
    return ",".join(cells).encode()


N = 30  # the fixture model's features
ONES = ["1"] * (N - 1)
# (name, body, content type, expected status): client input that once answered 500, and its neighbours.
PROBES = [
    ("nested list 5000 deep", b"[" * 5000 + b"]" * 5000, "application/json", 400),
    ("nested object 5000 deep", b'{"a":' * 5000 + b"1" + b"}" * 5000, "application/json", 400),
    ("instances 5000 deep", b'{"instances":' + b"[" * 5000 + b"]" * 5000 + b"}", "application/json", 400),
    ("100000 unclosed brackets", b"[" * 100_000, "application/json", 400),
    ("instances nested one level too deep", b'{"instances": [[' + _row(["1"] * N) + b"]]}", "application/json", 400),
    ("400-digit integer", _row(["1" + "0" * 400, *ONES]), "application/json", 400),
    ("5000-digit integer", _row(["1" + "0" * 5000, *ONES]), "application/json", 400),
    ("ragged rows", b"[" + _row(["1"] * N) + b"," + _row(ONES) + b"]", "application/json", 400),
    ("1.7e308 overflows the scaler", _row(["1.7e308"] * N), "application/json", 400),
    ("NaN", _row(["NaN", *ONES]), "application/json", 400),
    ("Infinity", _row(["-Infinity", *ONES]), "application/json", 400),
    ("1e999999", _row(["1e999999", *ONES]), "application/json", 400),
    ("numbers as strings", _row(['"1"'] * N), "application/json", 400),
    ("booleans", _row(["true"] * N), "application/json", 400),
    ("unicode strings", '["é", "日本", "\\ud800"]'.encode(), "application/json", 400),
    ("UTF-8 byte order mark", b"\xef\xbb\xbf" + _row(["1"] * N), "application/json", 400),
    ("instances object", b'{"instances": {}}', "application/json", 400),
    ("top-level null", b"null", "application/json", 400),
    ("valid 1e300 row", _row(["1e300", "-1e300"] * (N // 2)), "application/json", 200),
    ("valid instances", b'{"instances": [' + _row(["0.5"] * N) + b"]}", "application/json", 200),
    ("CSV 100000 columns", _csv(["1"] * 100_000), "text/csv", 400),
    ("CSV 5000-digit number", _csv(["1" + "0" * 5000, *ONES]), "text/csv", 400),
    ("CSV 1e999", _csv(["1e999", *ONES]), "text/csv", 400),
    ("CSV 1.7e308 overflows the scaler", _csv(["1.7e308"] * N), "text/csv", 400),
    ("CSV quoted number", _csv(['"1"', *ONES]), "text/csv", 400),
    ("CSV hexadecimal", _csv(["0x10", *ONES]), "text/csv", 400),
    ("CSV NUL byte", _csv(["1\x00", *ONES]), "text/csv", 400),
    ("CSV JSON body", _row(["1"] * N), "text/csv", 400),
    ("CSV Arabic-Indic digit", _csv(["\u0661", *ONES]), "text/csv", 200),
    ("CSV padded numbers", _csv([" 1 ", *ONES]), "text/csv", 200),
]


@pytest.mark.parametrize(("name", "body", "content_type", "status"), PROBES, ids=[p[0] for p in PROBES])
@pytest.mark.parametrize("accept", ["application/json", "text/csv"])
def test_client_input_never_answers_500(
    model_dir: Path, name: str, body: bytes, content_type: str, status: int, accept: str
) -> None:
    client = client_for(model_dir)
    reply = client.post("/invocations", data=body, content_type=content_type, headers={"Accept": accept})
    assert reply.status_code == status, reply.get_data(as_text=True)
    if status == 400:
        assert reply.get_json()["error"] and "internal error" not in reply.get_json()["error"]
    assert client.get("/ping").status_code == 200


def test_keepalive_requests_setting_installs_the_rebalancing_hook() -> None:
    assert ServerSettings.from_env({}).keepalive_requests == 32
    assert "pre_request" in ServerSettings.from_env({}).gunicorn_options()
    off = ServerSettings.from_env({"SAGEMAKER_MODEL_SERVER_KEEPALIVE_REQUESTS": "0"})
    assert "pre_request" not in off.gunicorn_options()
