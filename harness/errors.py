"""Error types. One root; user errors, contract violations, infrastructure
problems and job failures stay apart so the CLI can map each to its own exit
code and message. Every error carries the fix, not just the symptom."""

from __future__ import annotations


class HarnessError(Exception):
    """Root of every error the harness raises on purpose."""

    exit_code = 1

    def __init__(self, problem: str, fix: str = "", details: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        self.details = details

    def render(self) -> str:
        lines = [f"error: {self.problem}"]
        if self.fix:
            lines.append(f"  fix: {self.fix}")
        if self.details:
            lines.append("  details:")
            lines.extend(f"    {line}" for line in self.details.rstrip().splitlines())
        return "\n".join(lines)


class UserError(HarnessError):
    """The input (arguments, settings, files) is wrong; the user can fix it."""

    exit_code = 2


class ContractViolation(HarnessError):
    """A container does not honour a SageMaker contract."""

    exit_code = 3


class InfrastructureError(HarnessError):
    """Docker, the base image or the machine is not in a usable state."""

    exit_code = 4


class JobFailed(HarnessError):
    """A processing, training or serving job ran and failed."""

    exit_code = 5
