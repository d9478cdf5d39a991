"""Checks, their results, and the catalogue of rules (`harness check --list`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path


class Kind(str, Enum):
    INFERENCE = "inference"
    TRAINING = "training"
    PROCESSING = "processing"
    PAIR = "pair"


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Rule:
    name: str
    kind: Kind
    explanation: str


@dataclass(frozen=True)
class Result:
    name: str
    status: Status
    expected: str
    observed: str
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckOptions:
    """What the user supplies: inputs for the run and the limits to apply."""

    model: Path | None = None  # model.tar.gz or a folder, for inference
    payload: Path | None = None  # a sample request body, for inference
    content_type: str = "text/csv"
    startup_window_s: float = 240.0
    channels: dict[str, Path] = field(default_factory=dict)  # training: channel -> file or folder
    hyperparameters: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, Path] = field(default_factory=dict)  # processing: input name -> file or folder
    outputs: tuple[str, ...] = ()  # processing: output names, under /opt/ml/processing/output/<name>
    entrypoint: tuple[str, ...] = ()  # processing: ContainerEntrypoint, if not the image's
    arguments: tuple[str, ...] = ()  # processing: ContainerArguments
    libraries: tuple[str, ...] = ()  # pair: extra libraries that must match


def passed(rule: Rule, expected: str, observed: str, evidence: tuple[str, ...] = ()) -> Result:
    return Result(rule.name, Status.PASS, expected, observed, evidence)


def failed(rule: Rule, expected: str, observed: str, evidence: tuple[str, ...] = ()) -> Result:
    return Result(rule.name, Status.FAIL, expected, observed, evidence)


def skipped(rule: Rule, why: str) -> Result:
    return Result(rule.name, Status.SKIPPED, "", why)


def check(rule: Rule, ok: bool, expected: str, observed: str, evidence: tuple[str, ...] = ()) -> Result:
    return (passed if ok else failed)(rule, expected, observed, evidence)


def log_lines(text: str, limit: int = 12) -> tuple[str, ...]:
    lines = [line for line in text.splitlines() if line.strip()]
    return tuple(lines[-limit:])
