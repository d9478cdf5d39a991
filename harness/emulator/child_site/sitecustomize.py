"""Loaded by every Python process a `sagemaker-harness run` command starts (its folder is first on PYTHONPATH).

The SageMaker SDK builds its STS client with an explicit AWS endpoint
(`endpoint_url=https://sts.<region>.amazonaws.com`, for `default_bucket()` and
`account_id()`), and an explicit endpoint wins over AWS_ENDPOINT_URL. So once
botocore is imported, any client whose endpoint is an AWS host is created
against the local endpoint instead: nothing reaches AWS. Standard library
only (the command may run another Python than the harness's); a user's own
sitecustomize still runs after this one.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from typing import Any

_LOCAL = os.environ.get("HARNESS_LOCAL_ENDPOINT_URL", "")
_HERE = os.path.dirname(os.path.abspath(__file__))
_AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")


def _is_aws(url: object) -> bool:
    if not isinstance(url, str):
        return False
    host = url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
    return host.endswith(_AWS_HOST_SUFFIXES)


def _patch(module: Any) -> None:
    creator = module.ClientCreator
    original = creator.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _is_aws(kwargs.get("endpoint_url")):
            kwargs["endpoint_url"] = _LOCAL
        return original(self, *args, **kwargs)

    creator.create_client = create_client


class _AfterImport(importlib.abc.MetaPathFinder):
    """Patches botocore.client right after it is imported, without importing it before it is needed."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "botocore.client":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return None
        loader = spec.loader
        execute = loader.exec_module

        def exec_module(module: Any) -> None:
            execute(module)
            _patch(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _chain_user_sitecustomize() -> None:
    """Run the next sitecustomize on the path (a user's or the environment's), as if ours were not there."""
    rest = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)


if _LOCAL:
    if "botocore.client" in sys.modules:
        _patch(sys.modules["botocore.client"])
    else:
        sys.meta_path.insert(0, _AfterImport())
_chain_user_sitecustomize()
