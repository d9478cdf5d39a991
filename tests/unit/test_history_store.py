"""The run history's store: ids a person types, pruning by number and size, runs under way, bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from harness.cli_history import key_metric, step_of
from harness.errors import CorruptState, UserError
from harness.history import store
from harness.history.runs import previous_of, remove_kept


def record(run_id: str, **fields: Any) -> dict[str, Any]:
    return {"record_version": 2, "run_id": run_id, "status": "Succeeded", "code": {}, **fields}


def keep(state: Path, run_id: str, log_bytes: int = 0, **fields: Any) -> None:
    store.write(state, record(run_id, **fields))
    if log_bytes:
        files = store.files_of(state, run_id)
        files.logs.mkdir(parents=True)
        (files.logs / "job.log").write_bytes(b"x" * log_bytes)


def test_a_run_is_found_by_its_id_a_unique_prefix_or_latest(tmp_path: Path) -> None:
    for run_id in ("20261201T100000Z-aaaaaa", "20261201T110000Z-bbbbbb", "20261202T090000Z-cccccc"):
        keep(tmp_path, run_id)
    assert store.resolve(tmp_path, None) == store.resolve(tmp_path, "latest") == "20261202T090000Z-cccccc"
    assert store.resolve(tmp_path, "20261201T11") == "20261201T110000Z-bbbbbb"
    with pytest.raises(UserError, match="ambiguous: 2 runs") as ambiguous:
        store.resolve(tmp_path, "20261201")
    assert "20261201T100000Z-aaaaaa" in (ambiguous.value.fix or "")
    with pytest.raises(UserError, match="no run 'nope'") as unknown:
        store.resolve(tmp_path, "nope")
    assert (unknown.value.fix or "").startswith("recent runs: 20261202T090000Z-cccccc, 20261201T110000Z-bbbbbb")


def test_no_runs_yet_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no runs in") as caught:
        store.resolve(tmp_path, None)
    assert "harness run-local" in (caught.value.fix or "")


def test_a_corrupt_record_is_reported_with_its_path(tmp_path: Path) -> None:
    keep(tmp_path, "20261201T100000Z-aaaaaa")
    store.files_of(tmp_path, "20261201T100000Z-aaaaaa").record.write_text('{"run_id": "20261201T1')
    with pytest.raises(CorruptState) as caught:
        store.read(tmp_path, "20261201T100000Z-aaaaaa")
    assert "20261201T100000Z-aaaaaa.json" in caught.value.problem and "not valid JSON" in caught.value.problem


def test_pruning_keeps_the_newest_runs_within_the_count_and_the_size(tmp_path: Path) -> None:
    ids = [f"20261201T1{i}0000Z-00000{i}" for i in range(6)]
    for run_id in ids:
        keep(tmp_path, run_id, log_bytes=1000)
    removed_kept: list[str] = []
    assert store.prune(tmp_path, 4, 10**9, lambda r: removed_kept.append(r["run_id"])) == ids[:2]
    assert store.run_ids(tmp_path) == ids[2:] and removed_kept == ids[:2]
    assert not store.files_of(tmp_path, ids[0]).folder.exists()
    # By size: every run is ~1 kB of logs beside its record; 2.5 kB leaves two.
    assert store.prune(tmp_path, 100, 2500, lambda r: None) == ids[2:4]
    assert store.run_ids(tmp_path) == ids[4:]


def test_pruning_spares_the_run_latest_names_and_runs_under_way(tmp_path: Path) -> None:
    keep(tmp_path, "20261201T100000Z-000000")  # latest.json names this one...
    store.write(tmp_path, {**record("20261201T110000Z-000001"), "status": "Executing", "pid": os.getpid()},
                latest=False)  # fmt: skip
    store.write(tmp_path, record("20261201T120000Z-000002"), latest=False)  # ...the newest is this one
    keep_latest = json.loads((tmp_path / "runs" / "latest.json").read_text())["run_id"]
    assert keep_latest == "20261201T100000Z-000000"
    assert store.prune(tmp_path, 1, 10**9, lambda r: None) == []
    assert len(store.run_ids(tmp_path)) == 3


def test_a_run_left_executing_by_a_dead_process_is_abandoned(tmp_path: Path) -> None:
    assert store.status_of({"status": "Executing", "pid": os.getpid()}) == "Executing"
    assert store.status_of({"status": "Executing", "pid": 2**22 + 12345}) == "Abandoned"
    assert store.status_of({"status": "Failed"}) == "Failed"


def test_history_limits_come_from_the_environment_and_bad_ones_are_refused() -> None:
    assert store.limits({}) == (store.DEFAULT_MAX_RUNS, store.DEFAULT_MAX_MB * 1024 * 1024)
    assert store.limits({"HARNESS_HISTORY_RUNS": "3", "HARNESS_HISTORY_MB": "1"}) == (3, 1024 * 1024)
    with pytest.raises(UserError, match="HARNESS_HISTORY_RUNS='0' is not a whole number of at least 1"):
        store.limits({"HARNESS_HISTORY_RUNS": "0"})


def test_the_previous_run_is_the_newest_earlier_one_of_the_same_pipeline(tmp_path: Path) -> None:
    keep(tmp_path, "20261201T100000Z-000000", pipeline={"name": "a"})
    keep(tmp_path, "20261201T110000Z-000001", pipeline={"name": "b"})
    keep(tmp_path, "20261201T120000Z-000002", pipeline={"name": "a"})
    newest = record("20261201T120000Z-000002", pipeline={"name": "a"})
    assert (previous_of(tmp_path, newest) or {})["run_id"] == "20261201T100000Z-000000"
    assert previous_of(tmp_path, record("20261201T100000Z-000000", pipeline={"name": "a"})) is None


def test_a_step_that_is_not_in_the_run_names_the_ones_that_are() -> None:
    run = record("r", steps=[{"name": "Preprocess"}, {"name": "Train"}])
    with pytest.raises(UserError, match="run r has no step 'Evaluate'") as caught:
        step_of(run, "Evaluate")
    assert caught.value.fix == "its steps: Preprocess, Train"


def test_the_key_metric_is_the_last_measured_steps_first() -> None:
    steps = [{"name": "Train", "metrics": {"FinalMetricDataList": {"train:loss": 0.5}}},
             {"name": "Evaluate", "metrics": {"evaluation.json": {"metrics.accuracy.value": 0.98765}}},
             {"name": "Register"}]  # fmt: skip
    assert key_metric(record("r", steps=steps)) == "metrics.accuracy=0.9877"
    assert key_metric(record("r")) == ""


def test_removing_a_run_removes_what_it_kept(tmp_path: Path) -> None:
    folder = tmp_path / "kept" / "job-1"
    (folder / "work").mkdir(parents=True)
    (folder / "kept.json").write_text(json.dumps({"job": "job-1", "hosts": {"algo-1": {"container": "c0ffee"}}}))
    removed: list[str] = []
    remove_kept(record("r", steps=[{"name": "Train", "kept": {"folder": str(folder)}}]), removed.append)
    assert removed == ["c0ffee"] and not folder.exists()


def test_what_a_run_kept_counts_toward_its_size(tmp_path: Path) -> None:
    kept = tmp_path / "kept" / "job-1"
    (kept / "work").mkdir(parents=True)
    (kept / "work" / "train.csv").write_bytes(b"1" * 5000)
    keep(tmp_path, "20261201T100000Z-000000", steps=[{"name": "Train", "kept": {"folder": str(kept)}}])
    assert store.size_of(store.files_of(tmp_path, "20261201T100000Z-000000")) > 5000
    keep(tmp_path, "20261201T110000Z-000001")
    assert store.prune(tmp_path, 10, 4000, lambda r: None) == ["20261201T100000Z-000000"]
