"""Stand-in image benchmark: what building AWS's framework images locally costs, and what using a built one costs.

Run from the repository root:  .tox/tests/bin/python bench/standins.py [--only FRAMEWORK:VERSION ...]
                                   [--calls N] [--processes N] [--skip-builds]
(all four recipes: ~7 minutes on 2 cores, most of it the builds)

For each recipe in harness.images.recipes.RECIPES (or those named with --only, e.g. --only xgboost:1.7-1):

(a) cold build: `build_standin` (what a job's first use of AWS's image runs) with an empty wheel cache (a scratch
    cache folder, and a scratch pip cache, so pip's own HTTP cache does not help either) and no Docker layer to
    reuse (the build runs with `nocache`): base image choice, wheel download, the host's source builds, the build
    context, `docker build`. Seconds, each phase timed (Docker's steps from its output's timestamps), and the
    image's size in MB (Docker's `Size`).
(c) rebuild with the wheel cache warm and the image gone: the same in the same cache folder, again without
    Docker's layer cache: `docker build` plus assembling its context. And, for comparison, a rebuild with Docker's
    layer cache warm too (every step a cache hit: what is left is sending the context, wheels included).
(b) warm no-op: `StandIns(engine, ...).resolve(uri)` for the SDK's URI of that image
    (`sagemaker.image_uris.retrieve(..., region="us-east-1")`) while the stand-in exists and is current, each call in
    a fresh StandIns (nothing cached in process): median and p99 over --calls (default 200), after one untimed call;
    with its parts (the two `docker image inspect`s, the recipe's digest). Then --processes (default 5) fresh
    interpreters `python -c` that import harness.images.standins, connect to Docker and resolve once: wall time
    and its parts. Any build attempted during (b) is an error.

The user's images are left as they were: (a) and (c) build under a tag of their own
(`harness-standin/bench-<repository>:<version>`, the same recipe, lock, labels and context), and each image this
benchmark built is removed after its recipe, with the intermediate images of its build. (b) resolves the user's
own stand-in when it is current and its URI already names it (nothing is tagged then); otherwise the benchmark's
rebuild is tagged under the stand-in's name and the URI for (b), the images they named kept under
`harness-bench-keep/...`, and every tag is put back afterwards. On success, on error and on Ctrl-C or SIGTERM.

No goal was given for these; ours: (b)'s p99 <= 50 ms for every recipe (a job pays it once per image URI), and
(a) <= 90 s for every recipe (the README says a stand-in builds on first use in "about a minute"). Writes
bench/results/standins.json, or with --only bench/results/standins-<frameworks>.json (not with --skip-builds, which
measures (b) only). Exit status: 0 when every goal
passes, 3 when one fails, 1 on an error, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from benchkit import patched, write_results

import harness.engine.wheels as wheels_module
import harness.images.standins as standins_module
from harness.engine.docker import Engine, ImageInfo
from harness.images.recipes import RECIPES, Recipe
from harness.images.standins import RECIPE_LABEL, StandIns, build_standin, is_standin, recipe_digest

ROOT = Path(__file__).resolve().parent.parent
RESULTS_FILE = ROOT / "bench" / "results" / "standins.json"
REGION = "us-east-1"
BENCH_PREFIX = "bench-"  # (a) and (c) build harness-standin/bench-<repository>:<version>
KEEP_REPOSITORY = "harness-bench-keep"  # the user's images, while (b) needs their tags
IMAGE_REMOVAL_S = 60  # how long the images of an interrupted build may stay in use
GOAL_WARM_P99_MS = 50.0
GOAL_COLD_S = 90.0
EXIT_GOALS_FAILED = 3
WHEELHOUSE = "wheelhouse (download + source builds)"
STEP_LINE = re.compile(r"^Step (\d+)/(\d+) : (.*)$")
LAYER_LINE = re.compile(r"^ ---> ([0-9a-f]{12,64})$")

FRESH_PROCESS = r"""
import json, sys, time
began = time.perf_counter()
from harness.engine.docker import Engine
from harness.images.standins import StandIns
imported = time.perf_counter()
engine = Engine.connect()
connected = time.perf_counter()
notices = []
answer = StandIns(engine, notices.append).resolve(sys.argv[1])
resolved = time.perf_counter()
print(json.dumps({"import_s": imported - began, "connect_s": connected - imported, "resolve_s": resolved - connected,
                  "answer": answer, "notices": notices}))
"""


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C


def percentile(values: Sequence[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def label(recipe: Recipe) -> str:
    return f"{recipe.framework}:{recipe.version}"


# --- what this benchmark creates, and takes away again ---------------------------------------------------------


class Leftovers:
    """Every tag and image this benchmark made, and every tag it moved: undone in reverse, however it ends."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._tags: list[str] = []  # our own tags
        self._images: list[str] = []  # image IDs we built (final or intermediate), removed once untagged
        self._moved: list[tuple[str, str | None]] = []  # (reference, the image it named before, or None)

    def built(self, image_id: str) -> None:
        if image_id not in self._images:
            self._images.append(image_id)

    def tagged(self, reference: str) -> None:
        if reference not in self._tags:
            self._tags.append(reference)

    def move(self, reference: str, image_id: str) -> None:
        """Point `reference` at `image_id`, keeping what it named under a tag of ours until it is put back."""
        before = self._engine.image(reference)
        if before is not None and before.id == image_id:
            return
        if before is not None:
            aside = f"{KEEP_REPOSITORY}/{reference.replace(':', '-').replace('/', '-').lower()}:keep"
            self._engine.tag(before.id, *aside.rsplit(":", 1))
            self.tagged(aside)
        self._moved.append((reference, before.id if before else None))
        self._engine.tag(image_id, *reference.rsplit(":", 1))

    def restore(self) -> list[str]:
        """Put moved tags back, remove our tags, then our images (with their intermediate parents) once untagged."""
        problems = []
        for reference, image_id in reversed(self._moved):
            try:
                if image_id is None:
                    self._engine.untag(reference)
                else:
                    self._engine.tag(image_id, *reference.rsplit(":", 1))
            except Exception as error:  # noqa: BLE001 - report every one, go on with the rest
                problems.append(f"could not put {reference} back on {image_id}: {error}")
        self._moved.clear()
        for reference in reversed(self._tags):
            self._engine.untag(reference)
        self._tags.clear()
        # Newest first, each removal pruning its untagged parents. After an interrupted build the daemon is still
        # cancelling it: its step's container holds the last layer for a moment, so failed removals are retried.
        deadline = time.monotonic() + IMAGE_REMOVAL_S
        kept: dict[str, list[str]] = {}
        while True:
            failed = []
            for image_id in reversed(self._images):
                info = self._engine.image(image_id)
                if info is None:
                    continue  # already gone with a child's removal
                if info.tags:
                    kept[image_id] = list(info.tags)
                    continue
                try:
                    self._engine.client.images.remove(image_id)
                except Exception as error:  # noqa: BLE001 - in use for a moment yet, or a parent of another image
                    failed.append(f"{image_id[:19]}: {error}")
            if not failed or time.monotonic() > deadline:
                break
            time.sleep(1)
        problems.extend(f"kept {image_id[:19]}: still tagged {tags}" for image_id, tags in kept.items())
        problems.extend(f"could not remove the image {failure}" for failure in failed)
        self._images.clear()
        return problems


# --- timing build_standin's parts --------------------------------------------------------------------------------


@dataclass
class BuildTimes:
    phases: dict[str, float] = field(default_factory=dict)
    docker_steps: list[dict[str, Any]] = field(default_factory=list)

    def add(self, name: str, seconds: float) -> None:
        self.phases[name] = round(self.phases.get(name, 0.0) + seconds, 3)


def timed(times: BuildTimes, name: Callable[..., str] | str, function: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            times.add(name(*args, **kwargs) if callable(name) else name, time.perf_counter() - began)

    return wrapper


def pip_phase(arguments: list[str], *rest: Any, **kwargs: Any) -> str:
    return {"download": "wheel download (pip download)", "wheel": "source builds on the host (pip wheel)"}.get(
        arguments[0], f"pip {arguments[0]}"
    )


@contextlib.contextmanager
def docker_build_timed(engine: Engine, times: BuildTimes, leftovers: Leftovers, nocache: bool) -> Iterator[None]:
    """The engine's `docker build` API call with `nocache` as asked; its context's tar + upload timed (the call
    itself, until the daemon answers), each Dockerfile step from its output's timestamps, every layer it made
    recorded so that an interrupted build's intermediate images are removed too. On an error or Ctrl-C its HTTP
    response is closed at once, which makes the daemon cancel the build (the traceback would keep it open)."""
    api = engine.client.api
    original, original_post = api.build, api._post
    responses: list[Any] = []

    def post(*args: Any, **kwargs: Any) -> Any:
        response = original_post(*args, **kwargs)
        responses.append(response)
        return response

    def build(*args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        began = time.perf_counter()
        api._post = post
        try:
            stream = original(*args, **{**kwargs, "nocache": nocache})
        finally:
            api._post = original_post
        times.add("docker build: context tar + upload", time.perf_counter() - began)
        step: dict[str, Any] | None = None
        streamed = time.perf_counter()
        for event in stream:
            now = time.perf_counter()
            for line in str(event.get("stream", "")).splitlines():
                match, layer = STEP_LINE.match(line.strip()), LAYER_LINE.match(line.rstrip())
                if match:
                    if step is not None:
                        step["seconds"] = round(now - step.pop("began"), 3)
                        times.docker_steps.append(step)
                    step = {"step": f"{match[1]}/{match[2]}", "instruction": match[3][:80], "cached": False,
                            "began": now}  # fmt: skip
                elif layer and step is not None and not step["instruction"].upper().startswith("FROM"):
                    leftovers.built(layer[1])  # an image of this build's (FROM's line names the base image)
                elif step is not None and line.strip() == "---> Using cache":
                    step["cached"] = True
            yield event
        end = time.perf_counter()
        if step is not None:
            step["seconds"] = round(end - step.pop("began"), 3)
            times.docker_steps.append(step)
        times.add("docker build: steps", end - streamed)

    api.build = build
    try:
        yield
    except BaseException:
        for response in responses:
            with contextlib.suppress(Exception):
                response.close()
        raise
    finally:
        api.build = original


@contextlib.contextmanager
def scratch_pip_cache(folder: Path) -> Iterator[None]:
    """pip's own HTTP and wheel cache in `folder`, so a cold build does not profit from earlier downloads."""
    before = os.environ.get("PIP_CACHE_DIR")
    os.environ["PIP_CACHE_DIR"] = str(folder)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PIP_CACHE_DIR", None)
        else:
            os.environ["PIP_CACHE_DIR"] = before


def bench_recipe(recipe: Recipe, prefix: str) -> Recipe:
    """The same recipe under a tag of our own: `harness-standin/<prefix><repository>:<version>`."""
    return dataclasses.replace(recipe, repository=f"{prefix}{recipe.repository}")


def build_once(
    engine: Engine, recipe: Recipe, cache: Path, leftovers: Leftovers, nocache: bool
) -> tuple[ImageInfo, dict[str, Any]]:
    times = BuildTimes()
    lines: list[str] = []
    leftovers.tagged(recipe.local_name)
    began = time.perf_counter()
    base, wheelhouse = standins_module.resolve_base_image, standins_module.ensure_wheelhouse
    with (
        patched(standins_module, "resolve_base_image", timed(times, "base image choice", base)),
        patched(standins_module, "ensure_wheelhouse", timed(times, WHEELHOUSE, wheelhouse)),
        patched(wheels_module, "_pip", timed(times, pip_phase, wheels_module._pip)),
        patched(engine, "build", timed(times, "docker build (the engine's call)", engine.build)),
        docker_build_timed(engine, times, leftovers, nocache),
    ):
        info = build_standin(engine, recipe, cache, standins_module.AUTO, lines.append)
    total = time.perf_counter() - began
    leftovers.built(info.id)
    phases = dict(times.phases)
    accounted = phases.get("base image choice", 0.0) + phases.get(WHEELHOUSE, 0.0)
    accounted += phases.get("docker build (the engine's call)", 0.0)
    phases["context assembly (wheels linked, runtime copied) and the rest"] = round(total - accounted, 3)
    return info, {
        "total_s": round(total, 3),
        "image_id": info.id,
        "size_mb": round(info.size_bytes / 1e6, 1),
        "docker_nocache": nocache,
        "phases_s": phases,
        "docker_steps": times.docker_steps,
        "wheelhouse_mb": round(sum(p.stat().st_size for p in (cache / "wheels").rglob("*.whl")) / 1e6, 1),
        "lines": lines,
    }


# --- (b): the warm no-op ----------------------------------------------------------------------------------------


def sdk_uri(recipe: Recipe) -> str:
    from sagemaker import image_uris

    return str(image_uris.retrieve(recipe.framework, region=REGION, version=recipe.version, py_version="py3",
                                   instance_type="ml.m5.large"))  # fmt: skip


def is_current(info: ImageInfo | None, recipe: Recipe) -> bool:
    return info is not None and is_standin(info) and info.labels.get(RECIPE_LABEL) == recipe_digest(recipe)


def no_build(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("the warm resolve tried to build the stand-in: it was not current")


def warm_resolve(
    engine: Engine, recipe: Recipe, uri: str, rebuilt: ImageInfo | None, leftovers: Leftovers, calls: int,
    processes: int, cache: Path,
) -> dict[str, Any]:  # fmt: skip
    own, named = engine.image(recipe.local_name), engine.image(uri)
    if is_current(own, recipe) and named is not None and own is not None and named.id == own.id:
        subject = "the user's own stand-in (current, its URI already tagged)"
    elif rebuilt is not None:
        leftovers.move(recipe.local_name, rebuilt.id)
        leftovers.move(uri, rebuilt.id)
        subject = "the benchmark's rebuild, tagged under the stand-in's name and the URI for the measurement"
    else:
        raise RuntimeError(f"{recipe.local_name} is absent or not current and --skip-builds built none to use")
    image_id = engine.image(recipe.local_name).id  # type: ignore[union-attr]
    notices: list[str] = []
    samples, inspects, digests = [], [], []
    with patched(standins_module, "build_standin", no_build):
        StandIns(engine, notices.append, cache=cache).resolve(uri)  # untimed
        for _ in range(calls):
            began = time.perf_counter()
            answer = StandIns(engine, notices.append, cache=cache).resolve(uri)
            samples.append((time.perf_counter() - began) * 1000)
            if answer != uri:
                raise RuntimeError(f"resolve({uri}) answered {answer}")
        for _ in range(calls):  # its parts, for the breakdown
            began = time.perf_counter()
            engine.image(uri)
            engine.image(recipe.local_name)
            inspects.append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            recipe_digest(recipe)
            digests.append((time.perf_counter() - began) * 1000)
    if engine.image(uri).id != image_id:  # type: ignore[union-attr]
        raise RuntimeError(f"{uri} was retagged during the warm resolves")
    fresh = [fresh_process(uri, cache) for _ in range(processes)]
    return {
        "subject": subject,
        "image_id": image_id,
        "calls": calls,
        "median_ms": round(statistics.median(samples), 3),
        "p99_ms": round(percentile(samples, 99), 3),
        "min_ms": round(min(samples), 3),
        "max_ms": round(max(samples), 3),
        "parts_median_ms": {
            "two docker image inspects": round(statistics.median(inspects), 3),
            "recipe_digest()": round(statistics.median(digests), 3),
        },
        "fresh_process": {
            "runs": processes,
            "wall_s": round(statistics.median(f["wall_s"] for f in fresh), 3),
            "import_s": round(statistics.median(f["import_s"] for f in fresh), 3),
            "connect_s": round(statistics.median(f["connect_s"] for f in fresh), 3),
            "resolve_ms": round(statistics.median(f["resolve_s"] * 1000 for f in fresh), 2),
            "each": fresh,
        },
    }


def fresh_process(uri: str, cache: Path) -> dict[str, Any]:
    environment = {**os.environ, "HARNESS_CACHE_DIR": str(cache)}
    began = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", FRESH_PROCESS, uri], capture_output=True, text=True,
                            env=environment, cwd=cache.parent, timeout=120)  # fmt: skip
    wall = time.perf_counter() - began
    if result.returncode != 0:
        raise RuntimeError(f"the fresh-process resolve exited {result.returncode}:\n{result.stderr[-3000:]}")
    document = json.loads(result.stdout.strip().splitlines()[-1])
    if document["answer"] != uri or any("building" in notice for notice in document["notices"]):
        raise RuntimeError(f"the fresh-process resolve did not find the stand-in current: {document}")
    return {
        "wall_s": round(wall, 3),
        "import_s": round(document["import_s"], 3),
        "connect_s": round(document["connect_s"], 3),
        "resolve_s": round(document["resolve_s"], 4),
    }


# --- one recipe, all of it ---------------------------------------------------------------------------------------


def measure(engine: Engine, recipe: Recipe, args: argparse.Namespace, load: list[float]) -> dict[str, Any]:
    uri = sdk_uri(recipe)
    result: dict[str, Any] = {"local_name": recipe.local_name, "uri": uri, "recipe_sha256": recipe_digest(recipe)}
    leftovers = Leftovers(engine)
    scratch = Path(tempfile.mkdtemp(prefix="bench-standins-"))
    try:
        cache = scratch / "harness-cache"
        rebuilt = None
        with scratch_pip_cache(scratch / "pip-cache"):
            if not args.skip_builds:
                load.append(round(os.getloadavg()[0], 2))
                log(f"{label(recipe)}: (a) cold build (empty wheel and pip caches, no Docker layer cache)")
                _, result["cold"] = build_once(engine, bench_recipe(recipe, BENCH_PREFIX), cache, leftovers, True)
                log(f"  {result['cold']['total_s']:.1f} s, {result['cold']['size_mb']:.0f} MB")
                leftovers.restore()  # the cold image goes before the rebuild: only one copy on disk at a time
                load.append(round(os.getloadavg()[0], 2))
                log(f"{label(recipe)}: (c) rebuild, wheel cache warm, no Docker layer cache")
                rebuilt, result["rebuild_wheels_warm"] = build_once(
                    engine, bench_recipe(recipe, BENCH_PREFIX), cache, leftovers, True
                )
                log(f"  {result['rebuild_wheels_warm']['total_s']:.1f} s")
                log(f"{label(recipe)}: (c') rebuild, wheel cache and Docker's layer cache warm")
                cached, result["rebuild_layers_cached"] = build_once(
                    engine, bench_recipe(recipe, f"{BENCH_PREFIX}cached-"), cache, leftovers, False
                )
                result["rebuild_layers_cached"]["same_image_as_c"] = cached.id == rebuilt.id
                log(f"  {result['rebuild_layers_cached']['total_s']:.1f} s")
            load.append(round(os.getloadavg()[0], 2))
            log(f"{label(recipe)}: (b) warm no-op resolve of {uri}: {args.calls} calls, {args.processes} processes")
            result["warm"] = warm_resolve(engine, recipe, uri, rebuilt, leftovers, args.calls, args.processes, cache)
            warm = result["warm"]
            log(
                f"  median {warm['median_ms']:.2f} ms, p99 {warm['p99_ms']:.2f} ms; fresh process "
                f"{warm['fresh_process']['wall_s']:.2f} s (resolve {warm['fresh_process']['resolve_ms']:.1f} ms)"
            )
    finally:
        problems = leftovers.restore()
        for problem in problems:
            log(problem)
        shutil.rmtree(scratch, ignore_errors=True)
    return result


# --- report ------------------------------------------------------------------------------------------------------


def goals(results: Mapping[str, Mapping[str, Any]], builds: bool) -> dict[str, bool]:
    found = {
        f"{name}: warm no-op resolve p99 <= {GOAL_WARM_P99_MS:.0f} ms": r["warm"]["p99_ms"] <= GOAL_WARM_P99_MS
        for name, r in results.items()
    }
    if builds:
        found.update({
            f"{name}: cold build <= {GOAL_COLD_S:.0f} s (README: 'about a minute')": r["cold"]["total_s"] <= GOAL_COLD_S
            for name, r in results.items()
        })  # fmt: skip
    return found


def print_report(document: Mapping[str, Any]) -> None:
    results, load = document["recipes"], document["load_average_1min"]
    print(
        f"\n{document['cpu_count']} CPUs, 1-min load average {min(load):.1f}-{max(load):.1f} during the runs"
        + (": busy, figures are noisier" if max(load) > (document["cpu_count"] or 1) else "")
    )
    builds = "cold" in next(iter(results.values()))
    header = f"{'recipe':<15}"
    if builds:
        header += f"{'(a) cold s':>11}{'size MB':>9}{'(c) wheels warm s':>19}{'layers cached s':>17}"
    header += f"{'(b) median ms':>15}{'p99 ms':>9}{'fresh process s':>17}{'its resolve ms':>16}"
    print(header)
    for name, r in results.items():
        row = f"{name:<15}"
        if builds:
            row += (
                f"{r['cold']['total_s']:>11.1f}{r['cold']['size_mb']:>9.0f}{r['rebuild_wheels_warm']['total_s']:>19.1f}"
                f"{r['rebuild_layers_cached']['total_s']:>17.1f}"
            )
        fresh = r["warm"]["fresh_process"]
        row += f"{r['warm']['median_ms']:>15.2f}{r['warm']['p99_ms']:>9.2f}"
        row += f"{fresh['wall_s']:>17.2f}{fresh['resolve_ms']:>16.1f}"
        print(row)
    if builds:
        for kind, title in (("cold", "(a) cold build"), ("rebuild_wheels_warm", "(c) rebuild, wheels warm")):
            print(f"\n{title}, where the seconds go:")
            for name, r in results.items():
                phases = r[kind]["phases_s"]
                parts = ", ".join(f"{k} {v:.1f}" for k, v in phases.items() if k != "docker build (the engine's call)")
                slowest = max(r[kind]["docker_steps"], key=lambda s: s["seconds"], default=None)
                print(f"  {name}: {parts}")
                if slowest:
                    step, seconds, instruction = slowest["step"], slowest["seconds"], slowest["instruction"]
                    print(f"    slowest Docker step {step} {seconds:.1f} s: {instruction}")
    print("\n(b) a warm resolve's parts (median ms): "
          + "; ".join(f"{name}: " + ", ".join(f"{k} {v:.2f}" for k, v in r["warm"]["parts_median_ms"].items())
                      for name, r in results.items()))  # fmt: skip
    print("    fresh process (median s): " + "; ".join(
        f"{name}: import {r['warm']['fresh_process']['import_s']:.2f}, Docker connect "
        f"{r['warm']['fresh_process']['connect_s']:.2f}" for name, r in results.items()))  # fmt: skip
    print()
    for goal, ok in document["goals"].items():
        print(f"  [{'PASS' if ok else 'FAIL'}] {goal}")


# --- main ----------------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    everything = ", ".join(map(label, RECIPES.values()))
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="FRAMEWORK:VERSION",
        help=f"a recipe to measure (repeatable); default all: {everything}",
    )
    parser.add_argument("--calls", type=int, default=200, help="(b): warm resolves, each in a fresh StandIns")
    parser.add_argument("--processes", type=int, default=5, help="(b): fresh interpreters that resolve once")
    parser.add_argument("--skip-builds", action="store_true", help="(b) only; writes no results file")
    args = parser.parse_args(argv)  # fmt: skip
    known = {label(r): r for r in RECIPES.values()}
    unknown = [name for name in args.only if name not in known]
    if unknown:
        parser.error(f"no recipe {', '.join(unknown)}; there are {', '.join(known)}")
    args.recipes = [known[name] for name in args.only] if args.only else list(RECIPES.values())
    if not 1 <= args.calls <= 10000 or not 0 <= args.processes <= 50:
        parser.error("--calls must be in [1, 10000] and --processes in [0, 50]")
    return args


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    engine = Engine.connect()
    load = [round(os.getloadavg()[0], 2)]
    results: dict[str, Any] = {}
    try:
        for recipe in args.recipes:
            results[label(recipe)] = measure(engine, recipe, args, load)
    except KeyboardInterrupt:
        log("interrupted; the benchmark's images, tags and folders were removed")
        return 130
    load.append(round(os.getloadavg()[0], 2))
    document: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "machine": f"{platform.machine()}, {platform.system()} {platform.release()}",
        "docker_server": engine.client.version().get("Version", ""),
        "architecture": engine.architecture(),
        "load_average_1min": load,
        "method": {
            "cold": "build_standin() under harness-standin/bench-<repository>:<version> with a scratch cache folder "
            "(no wheelhouse), a scratch PIP_CACHE_DIR, and docker build nocache=True; phases timed by wrapping "
            "resolve_base_image, ensure_wheelhouse, pip's calls, the engine's build and its API call; Docker steps "
            "from the build output's timestamps",
            "rebuild_wheels_warm": "the same in the same cache folder (the wheelhouse complete), nocache=True",
            "rebuild_layers_cached": "the same again under a second tag, Docker's layer cache allowed",
            "warm": f"StandIns(engine, notices.append, cache=scratch).resolve(<the SDK's {REGION} URI>) with the "
            "stand-in present and current, a fresh StandIns per call, after one untimed call; build_standin "
            "replaced by an error for the duration",
            "fresh_process": "python -c: import harness.engine.docker and harness.images.standins, Engine.connect(), "
            "one resolve; wall time from this process",
            "wheel source": "pip's configuration on this machine: PyPI (reachable) plus local file indexes "
            "(extra-index-url file:///opt/pypi/simple, file:///opt/pypi-more/simple; find-links /opt/wheels)",
        },
        "recipes": results,
    }
    document["goals"] = goals(results, not args.skip_builds)
    print_report(document)
    if not args.skip_builds:
        # A run of some recipes writes a file of its own: the all-recipes figures stay as they were.
        only = "-".join(name.split(":")[0] for name in args.only)
        file = RESULTS_FILE.with_name(f"standins-{only}.json") if args.only else RESULTS_FILE
        write_results(file, document)
        log(f"wrote {file.relative_to(ROOT)} ({time.monotonic() - started:.0f} s in all)")
    return 0 if all(document["goals"].values()) else EXIT_GOALS_FAILED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
