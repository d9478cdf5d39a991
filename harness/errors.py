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


class CorruptState(UserError):
    """A state file under the state folder cannot be read back (corrupt or hand-edited)."""

    def __init__(self, path: object, what: str, reason: str, loses: str = "") -> None:
        super().__init__(
            f"the {what} {path} is corrupt or was edited by hand ({reason})",
            fix=f"delete it (`rm {path}`) or run `sagemaker-harness doctor --fix`, which moves it aside"
            + (f"; that forgets {loses}" if loses else ""),
        )
        self.path = path
        self.reason = reason


class ContainerTimeout(InfrastructureError):
    """A container did not exit within the time it was given (its daemon still answers)."""


class AwsError(InfrastructureError):
    """An AWS call failed; keeps AWS's error code so callers decide by code, not by message text."""

    def __init__(self, operation: str, resource: str, code: str, message: str, fix: str) -> None:
        super().__init__(f"AWS {operation} on {resource} failed: {code or '?'}: {message}", fix=fix)
        self.operation = operation
        self.resource = resource
        self.code = code
        self.message = message


BUG_EXIT_CODE = 70  # EX_SOFTWARE (sysexits.h): an internal software error, i.e. a bug in the harness
