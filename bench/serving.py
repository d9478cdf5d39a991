"""Serving benchmark: our inference image against a classic BYOC reference.

Run from the repository root:  python bench/serving.py [--seconds S] [--warmup S]

1. trains a model with the training image on the fixture data;
2. builds the reference image (bench/reference/: flask on gunicorn, 2 sync
   workers, pandas.read_csv per request) from the same base image and the
   same locked wheels as our images;
3. serves that one model from both images, checks that they predict the same
   labels for every payload, then
4. measures req/s, p50 and p99 for a 1-row and a 100-row CSV payload at
   concurrency 1 and 8, prints a table and writes bench/results/serving.json.

Our server is driven over persistent keep-alive connections (one per client
thread); the reference gets a new connection per request, because sync
workers close the connection after every response. Everything else in the
client is the same code. Every container is removed on exit, error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `python bench/serving.py` puts bench/, not the root, on sys.path

from harness.config import OFFLINE_BASE_IMAGE, PUBLIC_BASE_IMAGE, Settings  # noqa: E402
from harness.docker import Container, ContainerSpec, Engine, Mount, Scope  # noqa: E402
from harness.wheels import ensure_wheelhouse  # noqa: E402

REFERENCE_DIR = ROOT / "bench" / "reference"
REFERENCE_FILES = ("Dockerfile", "predictor.py", "wsgi.py", "serve")
REFERENCE_TAG = "harness-bench-reference:local"
BASE_LABEL = "com.sagemaker-local-harness.base-image"  # set by harness.images.build_images
RESULTS_FILE = ROOT / "bench" / "results" / "serving.json"
PORT = 8080
MODEL_MOUNT = "/opt/ml/model"
HEADERS = {"Content-Type": "text/csv", "Accept": "text/csv"}
CONCURRENCY = (1, 8)
BATCH_ROWS = 100
GOAL_THROUGHPUT_RATIO = 1.5  # ours / reference req/s, at concurrency 8
GOAL_TAIL_RATIO = 3.0  # ours p99 / p50
TRAIN_TIMEOUT_S = 300
READY_TIMEOUT_S = 90
REQUEST_TIMEOUT_S = 30
MAX_REQUESTS_PER_THREAD = 200_000  # a second bound besides the clock


@dataclass(frozen=True)
class Payload:
    name: str
    body: bytes
    rows: int


@dataclass(frozen=True)
class Server:
    name: str
    port: int
    keep_alive: bool


@dataclass(frozen=True)
class Cell:
    server: str
    payload: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    req_per_s: float
    p50_ms: float
    p99_ms: float
    client_cpu_percent: float  # of one core, for the whole client process


# --- setup ------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def base_image(engine: Engine, ours: str) -> str:
    """The base our inference image was built from (its label, else a local
    offline/public base); never pulls, since no registry may be reachable."""
    info = engine.image(ours)
    labelled = info.labels.get(BASE_LABEL) if info else None
    for name in (labelled, OFFLINE_BASE_IMAGE, PUBLIC_BASE_IMAGE):
        if name and engine.image(name) is not None:
            return name
    raise SystemExit(f"neither {OFFLINE_BASE_IMAGE} nor {PUBLIC_BASE_IMAGE} exists locally; build the images first")


def link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)  # wheels are large: avoid copying them into every context
    except OSError:  # another file system
        shutil.copy2(source, target)


def require_images(engine: Engine, names: Sequence[str]) -> None:
    missing = [name for name in names if engine.image(name) is None]
    if missing:
        raise SystemExit(f"missing image(s) {', '.join(missing)}: build them with harness.images.build_images")


def train_model(scope: Scope, image: str, train_csv: Path, workdir: Path) -> Path:
    """Run `docker run --network none -v DIR:/opt/ml IMAGE train`; returns DIR/model."""
    channel = workdir / "input" / "data" / "train"
    channel.mkdir(parents=True)
    shutil.copy2(train_csv, channel / "train_data.csv")
    spec = ContainerSpec(image=image, command=("train",), mounts=(Mount(workdir, "/opt/ml"),), network_disabled=True)
    container = scope.start(spec)
    try:
        code = container.wait(timeout_s=TRAIN_TIMEOUT_S)
        output = container.logs()
    finally:
        container.remove()
    model = workdir / "model"
    if code != 0 or not (model / "model.joblib").is_file():
        raise SystemExit(f"training failed (exit {code}):\n{output}")
    return model


def build_reference(engine: Engine, settings: Settings, base: str, workdir: Path) -> str:
    """Build the reference image from a temporary context with the locked wheels."""
    wheelhouse = ensure_wheelhouse(settings.wheels_cache_dir, settings.lock_file, engine.architecture(), log)
    context = workdir / "reference-context"
    (context / "wheels").mkdir(parents=True)
    for name in REFERENCE_FILES:
        shutil.copy2(REFERENCE_DIR / name, context / name)
    shutil.copy2(settings.lock_file, context / "requirements.lock")
    for wheel in wheelhouse.glob("*.whl"):
        link_or_copy(wheel, context / "wheels" / wheel.name)
    lines: list[str] = []  # not printed: Engine.build raises with the tail if the build fails
    info = engine.build(context, REFERENCE_TAG, "reference", {"BASE_IMAGE": base},
                        labels={BASE_LABEL: base}, on_line=lines.append)
    return info.id


def start_server(scope: Scope, image: str, model_dir: Path) -> Container:
    spec = ContainerSpec(image=image, command=("serve",), mounts=(Mount(model_dir, MODEL_MOUNT, read_only=True),),
                         ports=(PORT,))
    return scope.start(spec)


def wait_ready(container: Container, port: int, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Poll /ping until 200; fail early with the log tail if the container dies."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if container.status() == "exited":
            raise SystemExit(f"container {container.short_id} exited while starting:\n{container.logs_tail()}")
        try:
            status, _ = request_once(port, "GET", "/ping", b"", {})
            if status == 200:
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.25)
    raise SystemExit(f"container {container.short_id} not ready after {timeout_s} s:\n{container.logs_tail()}")


def load_payloads(fixtures: Path) -> list[Payload]:
    """The 1-row fixture, and 100 rows cycled from the test set minus its label (first column)."""
    single = (fixtures / "payloads" / "single_row.csv").read_bytes()
    test_rows = [line.split(",", 1)[1] for line in (fixtures / "data" / "test" / "test_data.csv").read_text().splitlines()
                 if line.strip()]
    batch = "".join(test_rows[i % len(test_rows)] + "\n" for i in range(BATCH_ROWS)).encode()
    return [Payload("1 row", single, 1), Payload(f"{BATCH_ROWS} rows", batch, BATCH_ROWS)]


# --- client -------------------------------------------------------------------


def request_once(port: int, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def check_parity(ours: Server, reference: Server, payloads: Sequence[Payload]) -> None:
    """Both servers must return the same labels, one line per row, before any timing."""
    for payload in payloads:
        answers = [request_once(s.port, "POST", "/invocations", payload.body, HEADERS) for s in (ours, reference)]
        for server, (status, body) in zip((ours, reference), answers):
            if status != 200 or len(body.splitlines()) != payload.rows:
                raise SystemExit(f"{server.name} answered {status} with {body[:200]!r} for {payload.name}")
        if answers[0][1] != answers[1][1]:
            raise SystemExit(f"predictions differ for {payload.name}: {answers[0][1][:200]!r} vs {answers[1][1][:200]!r}")
        log(f"parity ok for {payload.name}: identical predictions from both servers")


def client_loop(server: Server, body: bytes, start: threading.Barrier, deadline_box: list[float],
                latencies: list[float], errors: list[int]) -> None:
    """One client thread: requests back to back until the deadline (or the request cap)."""
    conn: http.client.HTTPConnection | None = None
    start.wait()
    deadline = deadline_box[0]
    for _ in range(MAX_REQUESTS_PER_THREAD):
        began = time.perf_counter()
        if began >= deadline:
            break
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=REQUEST_TIMEOUT_S)
            conn.request("POST", "/invocations", body=body, headers=HEADERS)
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            ok = False
        if not ok or not server.keep_alive:
            if conn is not None:
                conn.close()
            conn = None
        if ok:
            latencies.append(time.perf_counter() - began)
        else:
            errors[0] += 1
    if conn is not None:
        conn.close()


def run_load(server: Server, payload: Payload, concurrency: int, seconds: float) -> tuple[list[float], int, float, float]:
    """Latencies (s), error count, wall seconds and client CPU seconds for one timed run."""
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors: list[list[int]] = [[0] for _ in range(concurrency)]
    deadline_box = [0.0]
    # The last party to arrive sets the deadline, so every thread starts on the same clock.
    barrier = threading.Barrier(concurrency + 1, action=lambda: deadline_box.__setitem__(0, time.perf_counter() + seconds))
    threads = [threading.Thread(target=client_loop, args=(server, payload.body, barrier, deadline_box, latencies[i], errors[i]),
                                daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    cpu_before = time.process_time()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join(timeout=seconds + REQUEST_TIMEOUT_S + 5)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    return [x for chunk in latencies for x in chunk], sum(e[0] for e in errors), wall, cpu


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted sequence."""
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def measure(server: Server, payload: Payload, concurrency: int, seconds: float, warmup: float) -> Cell:
    run_load(server, payload, concurrency, warmup)  # warms workers, caches, lazy model loads
    latencies, errors, wall, cpu = run_load(server, payload, concurrency, seconds)
    latencies.sort()
    if not latencies:
        raise SystemExit(f"{server.name} answered no request for {payload.name} at concurrency {concurrency}")
    return Cell(server.name, payload.name, concurrency, len(latencies), errors, round(wall, 3),
                round(len(latencies) / wall, 1), round(percentile(latencies, 0.50) * 1000, 2),
                round(percentile(latencies, 0.99) * 1000, 2), round(100 * cpu / wall, 1))


# --- report -----------------------------------------------------------------


def find(cells: Sequence[Cell], server: str, payload: str, concurrency: int) -> Cell:
    return next(c for c in cells if (c.server, c.payload, c.concurrency) == (server, payload, concurrency))


def comparisons(cells: Sequence[Cell], payloads: Sequence[Payload]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for payload in payloads:
        for concurrency in CONCURRENCY:
            ours, ref = find(cells, "ours", payload.name, concurrency), find(cells, "reference", payload.name, concurrency)
            rows.append({"payload": payload.name, "concurrency": concurrency,
                         "throughput_ratio": round(ours.req_per_s / ref.req_per_s, 2),
                         "ours_p99_over_p50": round(ours.p99_ms / ours.p50_ms, 2)})
    return rows


def goals(cells: Sequence[Cell], ratios: Sequence[dict[str, object]]) -> dict[str, bool]:
    return {
        f"ours >= {GOAL_THROUGHPUT_RATIO}x reference req/s at concurrency 8": all(
            float(r["throughput_ratio"]) >= GOAL_THROUGHPUT_RATIO for r in ratios if r["concurrency"] == 8),  # type: ignore[arg-type]
        f"ours p99 <= {GOAL_TAIL_RATIO}x p50 (every cell)": all(
            c.p99_ms <= GOAL_TAIL_RATIO * c.p50_ms for c in cells if c.server == "ours"),
        "no failed requests": all(c.errors == 0 for c in cells),
    }


def print_report(cells: Sequence[Cell], ratios: Sequence[dict[str, object]], met: dict[str, bool]) -> None:
    print()
    print(f"{'server':<10} {'payload':<9} {'conc':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'client CPU':>10}")
    for c in cells:
        print(f"{c.server:<10} {c.payload:<9} {c.concurrency:>4} {c.req_per_s:>8.1f} {c.p50_ms:>8.2f} "
              f"{c.p99_ms:>8.2f} {c.errors:>6} {c.client_cpu_percent:>9.0f}%")
    print()
    print(f"{'payload':<9} {'conc':>4} {'ours/ref req/s':>15} {'ours p99/p50':>13}")
    for r in ratios:
        print(f"{r['payload']:<9} {r['concurrency']:>4} {r['throughput_ratio']:>14.2f}x {r['ours_p99_over_p50']:>12.2f}x")
    print()
    for goal, ok in met.items():
        print(f"  [{'MET' if ok else 'NOT MET'}] {goal}")
    print(f"\nnote: the Python client shares the {os.cpu_count()} CPU core(s) with the server under test; "
          "'client CPU' is its share of one core.")


def write_results(path: Path, document: dict[str, object]) -> None:
    """Write via a temporary file, so an interrupted run never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.tmp")
    partial.write_text(json.dumps(document, indent=2) + "\n")
    partial.replace(path)


# --- main -------------------------------------------------------------------


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per cell (default 8)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per cell (default 2)")
    args = parser.parse_args(argv)
    if not (0 < args.seconds <= 60 and 0 <= args.warmup <= 30):
        parser.error("--seconds must be in (0, 60] and --warmup in [0, 30]")
    return args


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C


def benchmark(args: argparse.Namespace, settings: Settings, engine: Engine, on_cell: Callable[[Cell], None]) -> dict[str, object]:
    ours_image, training_image = settings.image_name("inference"), settings.image_name("training")
    require_images(engine, (ours_image, training_image))
    payloads = load_payloads(settings.fixtures_dir)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-serving-", dir=settings.state_dir) as scratch, \
            Scope(engine, "bench") as scope:
        workdir = Path(scratch)
        base = base_image(engine, ours_image)
        log(f"building {REFERENCE_TAG} from {base} with the locked wheels")
        reference_id = build_reference(engine, settings, base, workdir)
        log(f"training a model with {training_image}")
        model_dir = train_model(scope, training_image, settings.fixtures_dir / "data" / "train" / "train_data.csv",
                                workdir / "opt-ml")
        ours_c, ref_c = start_server(scope, ours_image, model_dir), start_server(scope, REFERENCE_TAG, model_dir)
        ours = Server("ours", ours_c.host_port(PORT), keep_alive=True)
        reference = Server("reference", ref_c.host_port(PORT), keep_alive=False)
        wait_ready(ours_c, ours.port)
        wait_ready(ref_c, reference.port)
        check_parity(ours, reference, payloads)
        cells = []
        for server in (ours, reference):
            for payload in payloads:
                for concurrency in CONCURRENCY:
                    cells.append(measure(server, payload, concurrency, args.seconds, args.warmup))
                    on_cell(cells[-1])
    ratios = comparisons(cells, payloads)
    return {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "seconds_per_cell": args.seconds,
        "warmup_seconds": args.warmup,
        "images": {"ours": ours_image, "reference": REFERENCE_TAG, "reference_id": reference_id, "base": base},
        "client": "Python threads, http.client; ours: keep-alive connection per thread; reference: new connection "
                  "per request; the client shares the CPU cores with the server",
        "cells": [asdict(c) for c in cells],
        "ratios": ratios,
        "goals": goals(cells, ratios),
    }


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    settings, engine = Settings.from_env(), Engine.connect()
    started = time.monotonic()
    try:
        document = benchmark(args, settings, engine, lambda c: log(
            f"{c.server} {c.payload} x{c.concurrency}: {c.req_per_s} req/s, p50 {c.p50_ms} ms, p99 {c.p99_ms} ms"))
    except KeyboardInterrupt:
        log("interrupted; containers removed")
        return 130
    cells = [Cell(**c) for c in document["cells"]]  # type: ignore[arg-type, union-attr]
    print_report(cells, document["ratios"], document["goals"])  # type: ignore[arg-type]
    write_results(RESULTS_FILE, document)
    log(f"wrote {RESULTS_FILE.relative_to(ROOT)} in {time.monotonic() - started:.0f} s total")
    return 0 if all(document["goals"].values()) else 1  # type: ignore[union-attr]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
