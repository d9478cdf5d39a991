"""run-local's library parity probe: on a cold cache both images are probed at the same time, then remembered."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from harness.engine.docker import Scope
from harness.project.images import ImageKind, cached_library_versions_of


def test_a_cold_cache_probes_both_images_at_once(tmp_path: Path, scope: Scope, images: dict[ImageKind, str]) -> None:
    cache = tmp_path / "image-versions.json"
    tags = [images[ImageKind.TRAINING], images[ImageKind.INFERENCE]]
    most, done = 0, threading.Event()

    def watch() -> None:  # the probe containers of this scope alive at one moment
        nonlocal most
        labels = {"label": [f"{key}={value}" for key, value in scope.labels.items()]}
        while not done.is_set():  # sparse: no inspect of a container removed meanwhile
            most = max(most, len(scope.engine.client.containers.list(all=True, sparse=True, filters=labels)))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        training, inference = cached_library_versions_of(scope, tags, cache)
    finally:
        done.set()
        watcher.join()
    assert most == 2  # one after the other, there would never be more than one
    assert training == inference and training["scikit-learn"]
    ids = {info.id for info in (scope.engine.image(tag) for tag in tags) if info is not None}
    assert set(json.loads(cache.read_text())) == ids
    assert cached_library_versions_of(scope, tags, cache) == [training, inference]  # warm: from the file
