"""Checks, their results, and the catalogue of rules (`harness check --list`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class Kind(StrEnum):
    INFERENCE = "inference"
    TRAINING = "training"
    PROCESSING = "processing"
    PAIR = "pair"


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIPPED = "skipped"  # the check could not run (an input is missing, or an earlier failure hides it): unverified
    NOT_APPLICABLE = "n/a"  # SageMaker does not apply the rule to this image (e.g. bind-to-port without its label)


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
    cause: str = ""  # SKIP only: the short reason the summary line groups by


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


# A check skipped because an earlier one failed: the run fails already, the skip only says why nothing more is known.
EARLIER_FAILURE = "an earlier check failed"


def skipped(rule: Rule, why: str, cause: str) -> Result:
    """The check could not run; `cause` is short (it is grouped on the summary line), `why` is the full story."""
    return Result(rule.name, Status.SKIPPED, "", why, cause=cause)


def hidden(rule: Rule, why: str) -> Result:
    return skipped(rule, why, EARLIER_FAILURE)


def not_applicable(rule: Rule, why: str) -> Result:
    return Result(rule.name, Status.NOT_APPLICABLE, "", why)


def check(rule: Rule, ok: bool, expected: str, observed: str, evidence: tuple[str, ...] = ()) -> Result:
    return (passed if ok else failed)(rule, expected, observed, evidence)


def log_lines(text: str, limit: int = 12) -> tuple[str, ...]:
    lines = [line for line in text.splitlines() if line.strip()]
    return tuple(lines[-limit:])
