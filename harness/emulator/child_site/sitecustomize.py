"""Loaded by every Python process a `sagemaker-harness run` command starts (its folder is first on PYTHONPATH).

Adjustments, all but the last applied right after their module is imported (never importing it earlier):

- botocore.client: the SageMaker SDK builds its STS client with an explicit AWS
  endpoint (`endpoint_url=https://sts.<region>.amazonaws.com`, for
  `default_bucket()` and `account_id()`), and an explicit endpoint wins over
  AWS_ENDPOINT_URL. Any client whose endpoint is an AWS host is created against
  the local endpoint instead: nothing reaches AWS.
- botocore.loaders: each botocore session parses the service models it uses
  from their JSON files (SageMaker's alone takes ~0.1 s), and a pipeline
  script makes several sessions (its own `boto3.Session()`, the SDK's, and a
  fresh loader for every `sts_regional_endpoint()`): ~0.6 s of a pipeline
  script's own 1.3 s outside its jobs went there. Loaders for the same search
  path are one shared loader, as every client of one session already shares
  its session's; boto3's appending of its own data folder to it once per
  session is kept to one entry.
- sagemaker.session: the SDK's pollers (`_wait_until`, `_wait_until_training_done`,
  behind `Processor.run()`, `Estimator.fit()`, `deploy()`, `Transformer.wait()`)
  sleep 5-30 s *before* their first describe. Locally the work has already ended
  when that describe would run, so they describe first and sleep only if it has
  not: the same answers, no idle wait.
- sagemaker.config.config: the SDK validates its whole config with jsonschema
  on every config lookup (~0.1 s each, about a hundred per pipeline build),
  and the config `run` hands the command (telemetry off) makes every lookup
  pay it. A config that passed once passes again: each distinct config is
  validated once. And `jsonschema.validate` first checks the SDK's own schema
  against JSON Schema's metaschema (~0.25 s, on every distinct config): that
  schema is the SDK's constant, so the config is validated against it as
  `jsonschema.validate` does, less that check (the same errors, raised alike).
- the interpreter's exit: a process that imported the SDK holds about a million
  objects, and Python's finalization walks them all in several garbage
  collections (0.4-0.6 s after the last line of a pipeline script). After every
  other exit hook has run, one collection still finalizes the cyclic garbage,
  then gc.freeze() lets the collections of the teardown skip what is still
  alive (~0.15 s in all). Python does not promise to finalize objects alive at
  exit; files still flush as their last reference goes. HARNESS_FULL_EXIT=1
  turns this off.

Standard library only (the command may run another Python than the harness's);
a user's own sitecustomize still runs after this one.
"""

from __future__ import annotations

import atexit
import gc
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import threading
from typing import Any

_LOCAL = os.environ.get("HARNESS_LOCAL_ENDPOINT_URL", "")
_HERE = os.path.dirname(os.path.abspath(__file__))
_AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")


def _is_aws(url: object) -> bool:
    if not isinstance(url, str):
        return False
    host = url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
    return host.endswith(_AWS_HOST_SUFFIXES)


def _local_endpoints(module: Any) -> None:
    creator = module.ClientCreator
    original = creator.create_client

    def create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        if _is_aws(kwargs.get("endpoint_url")):
            kwargs["endpoint_url"] = _LOCAL
        return original(self, *args, **kwargs)

    creator.create_client = create_client


def _quick_exit() -> None:
    """Registered first, so it runs after every other atexit hook (they run last-in, first-out)."""
    if "sagemaker" in sys.modules:
        gc.collect()
        gc.freeze()


def _describe_first(module: Any) -> None:
    wait_until = getattr(module, "_wait_until", None)
    training_done = getattr(module, "_wait_until_training_done", None)
    if wait_until is not None:

        def _wait_until(callable_fn: Any, poll: Any = 5) -> Any:
            try:
                result = callable_fn()
            except Exception:  # noqa: BLE001 (any failure: the SDK's own loop decides what it means)
                result = None
            return result if result is not None else wait_until(callable_fn, poll)

        module._wait_until = _wait_until
    if training_done is not None:

        def _wait_until_training_done(callable_fn: Any, desc: Any, poll: Any = 5) -> Any:
            try:
                job_desc, finished = callable_fn(desc)
            except Exception:  # noqa: BLE001 (as above: the SDK's own loop handles it)
                finished = False
            return job_desc if finished else training_done(callable_fn, desc, poll)

        module._wait_until_training_done = _wait_until_training_done


class _UniquePaths(list):  # type: ignore[type-arg]
    """A shared loader's search paths: a folder already there is not appended again (boto3 appends its own data
    folder to its session's loader every time a session is made)."""

    def append(self, path: Any) -> None:
        if path not in self:
            super().append(path)


def _shared_loaders(module: Any) -> None:
    create = getattr(module, "create_loader", None)
    if create is None:
        return
    made: dict[Any, Any] = {}
    lock = threading.Lock()

    def create_loader(search_path_string: Any = None) -> Any:
        with lock:
            loader = made.get(search_path_string)
            if loader is None:
                loader = made[search_path_string] = create(search_path_string)
                if type(getattr(loader, "_search_paths", None)) is list:
                    loader._search_paths = _UniquePaths(loader._search_paths)
        return loader

    module.create_loader = create_loader  # botocore.session imports it by name after this ran


def _validate_once(module: Any) -> None:
    schema = getattr(module, "SAGEMAKER_PYTHON_SDK_CONFIG_SCHEMA", None)
    if getattr(module, "validate_sagemaker_config", None) is None or schema is None:
        return
    import jsonschema  # type: ignore[import-untyped]  # the SDK's own dependency, which the module imported

    validator = jsonschema.validators.validator_for(schema)(schema)
    passed: set[str] = set()

    def validate_sagemaker_config(sagemaker_config: Any = None) -> Any:
        key = json.dumps(sagemaker_config, sort_keys=True, default=str)
        if key in passed:
            return None
        error = jsonschema.exceptions.best_match(validator.iter_errors(sagemaker_config))
        if error is not None:
            raise error
        passed.add(key)
        return None

    # load_sagemaker_config calls it by this module's name; the package and the SDK's other modules import it
    # from here, after this ran.
    module.validate_sagemaker_config = validate_sagemaker_config


_AFTER_IMPORT = {
    "botocore.loaders": _shared_loaders,
    "botocore.client": _local_endpoints,
    "sagemaker.config.config": _validate_once,
    "sagemaker.session": _describe_first,
}


class _AfterImport(importlib.abc.MetaPathFinder):
    """Adjusts a module right after it is imported, without importing it before it is needed."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        adjust = _AFTER_IMPORT.get(name)
        if adjust is None or getattr(self, "_resolving", False):
            return None
        self._resolving = True  # find_spec below must not find us again
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._resolving = False
        if spec is None or spec.loader is None:
            return None
        del _AFTER_IMPORT[name]
        if not _AFTER_IMPORT:
            sys.meta_path.remove(self)
        loader = spec.loader
        execute = loader.exec_module

        def exec_module(module: Any) -> None:
            execute(module)
            adjust(module)

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
    for _name in [n for n in _AFTER_IMPORT if n in sys.modules]:
        _AFTER_IMPORT.pop(_name)(sys.modules[_name])
    if _AFTER_IMPORT:
        sys.meta_path.insert(0, _AfterImport())
    if os.environ.get("HARNESS_FULL_EXIT") != "1":
        atexit.register(_quick_exit)
_chain_user_sitecustomize()
