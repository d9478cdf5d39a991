"""The small files a model package names (its ModelMetrics and DriftCheckBaselines reports), kept beside the
registry.

The registry outlives the local S3 (a `run` or `run-local` starts with an empty bucket; the registry is
`.harness/registry.json`), but a later run's QualityCheck step reads the approved package's baseline from S3,
as in the cloud, where S3 keeps it. So registering a package keeps a copy of each such file, and describing a
package puts back any that its S3 no longer has. Model artifacts are not kept: they are large, and a run
trains its own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from harness.emulator.storage import EmbeddedS3, S3Uri, sha256_file

_MEMBERS = ("ModelMetrics", "DriftCheckBaselines")
_KEPT_BYTES = 20 * 1024 * 1024  # a report larger than this is not kept (it is not a report)
_LOG = logging.getLogger(__name__)


class PackageFiles:
    def __init__(self, folder: Path, s3: EmbeddedS3) -> None:
        self._folder = folder
        self._s3 = s3

    def keep(self, package: Mapping[str, Any]) -> None:
        """Copy every file the package's reports name that exists now."""
        index = self._index()
        for uri in _report_uris(package):
            location = S3Uri.parse(uri)
            if not self._s3.exists(location):
                continue
            self._folder.mkdir(parents=True, exist_ok=True)
            staging = self._folder / "incoming"
            self._s3.get_file(location, staging)
            if staging.stat().st_size > _KEPT_BYTES:
                staging.unlink()
                continue
            digest = sha256_file(staging)
            staging.replace(self._folder / digest)
            index[uri] = digest
        self._write_index(index)

    def restore(self, package: Mapping[str, Any]) -> None:
        """Put back into S3 each file of the package's reports that S3 lacks and a copy was kept of."""
        index = self._index()
        for uri in _report_uris(package):
            kept = self._folder / index.get(uri, "-")
            location = S3Uri.parse(uri)
            if kept.is_file() and not self._s3.exists(location):
                self._s3.put_file(kept, location)

    def _index(self) -> dict[str, str]:
        file = self._folder / "index.json"
        try:
            return dict(json.loads(file.read_text())) if file.is_file() else {}
        except (OSError, ValueError):  # a damaged index only loses the copies: the registry itself is intact
            _LOG.warning("ignoring the unreadable %s", file)
            return {}

    def _write_index(self, index: dict[str, str]) -> None:
        if index:
            staging = self._folder / "index.json.partial"
            staging.write_text(json.dumps(index, indent=1, sort_keys=True))
            staging.replace(self._folder / "index.json")


def _report_uris(package: Mapping[str, Any]) -> Iterator[str]:
    """Every `S3Uri` under the package's ModelMetrics and DriftCheckBaselines."""

    def walk(value: Any) -> Iterator[str]:
        if isinstance(value, Mapping):
            uri = value.get("S3Uri")
            if isinstance(uri, str) and uri.startswith("s3://"):
                yield uri
            for member in value.values():
                yield from walk(member)

    for member in _MEMBERS:
        yield from walk(package.get(member) or {})
