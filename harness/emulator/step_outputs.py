"""A Lambda or Callback step's OutputParameters: the values it got back, each read by name and typed as the step
declares it (`String`, `Integer`, `Float`, `Boolean`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from harness.errors import UserError

_TYPES: dict[str, Callable[[Any], Any]] = {"String": str, "Integer": int, "Float": float, "Boolean": bool}


def typed_outputs(owner: str, answer: Any, outputs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """`owner` names what answered ("Lambda function notify", "the callback"), for the errors."""
    if outputs and not isinstance(answer, dict):
        raise UserError(f"{owner} returned {type(answer).__name__}, not a JSON object with its "
                        f"outputs {', '.join(str(o.get('OutputName')) for o in outputs)}")  # fmt: skip
    typed: dict[str, Any] = {}
    for output in outputs:
        key, kind = str(output.get("OutputName")), str(output.get("OutputType", "String"))
        if key not in answer:
            raise UserError(f"{owner} returned no output {key!r}: it returned {sorted(answer)}")
        value = answer[key]
        try:
            typed[key] = (str(value).lower() == "true") if kind == "Boolean" and isinstance(value, str) else \
                _TYPES.get(kind, str)(value)  # fmt: skip
        except (TypeError, ValueError):
            raise UserError(f"{owner}: output {key}={value!r} is not a {kind}") from None
    return typed


def as_text(value: Any) -> str:
    """An output as the service reports it in a step's metadata: text, booleans lowercase."""
    return str(value).lower() if isinstance(value, bool) else str(value)
