"""The inference image also runs under testcontainers, the runner many users'
test suites already use (Ryuk off: no image can be pulled here; our label
lets the session's leftover check see the container)."""

from pathlib import Path

import pytest
import requests
from support import SESSION, extracted_model
from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import HttpWaitStrategy

from harness.engine.docker import OWNER, OWNER_LABEL, SCOPE_LABEL
from harness.project.images import ImageKind


def test_serves_under_testcontainers(
    trained: Path, tmp_path: Path, fixtures_dir: Path, images: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(testcontainers_config, "ryuk_disabled", True)
    model_dir = extracted_model(trained, tmp_path)
    container = (
        DockerContainer(images[ImageKind.INFERENCE], labels={OWNER_LABEL: OWNER, SCOPE_LABEL: f"{SESSION}-tc"})
        .with_command("serve")
        .with_exposed_ports(8080)
        .with_volume_mapping(str(model_dir), "/opt/ml/model", "ro")
        .waiting_for(HttpWaitStrategy(8080, "/ping").for_status_code(200).with_startup_timeout(60))
    )
    with container:
        url = f"http://{container.get_container_host_ip()}:{container.get_exposed_port(8080)}/invocations"
        body = (fixtures_dir / "payloads" / "single_row.csv").read_bytes()
        reply = requests.post(url, data=body, headers={"Content-Type": "text/csv"}, timeout=60)
    assert reply.status_code == 200
    assert reply.text.strip() in {"0", "1"}
