"""Per-item featurization errors: bad molecules become records, never exceptions."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class ErrorReason(StrEnum):
    """Why one input could not become a graph."""

    UNPARSABLE = "unparsable"
    EMPTY = "empty"
    TOO_MANY_ATOMS = "too many atoms"
    UNSUPPORTED_ELEMENT = "unsupported element"
    UNSUPPORTED_BOND = "unsupported bond"
    STANDARDIZATION_FAILED = "standardization failed"
    PARSE_CRASHED = "parse crashed"  # the process parsing it died (an RDKit crash, its memory limit)
    PARSE_TIMEOUT = "parse timed out"


@dataclass(frozen=True)
class FeaturizationError:
    """One input that was not featurized: its position, the input as text, the reason and a message."""

    index: int
    input: str
    reason: ErrorReason
    message: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (reason as its plain string)."""
        out = asdict(self)
        out["reason"] = str(self.reason)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeaturizationError:
        return cls(int(d["index"]), str(d["input"]), ErrorReason(d["reason"]), str(d["message"]))


class ItemError(Exception):
    """Raised inside the per-molecule code and turned into a FeaturizationError by the caller."""

    def __init__(self, reason: ErrorReason, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message
