"""Who a run belongs to: ``UserExecutionContext``, immutable, with real ids only."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NoReturn

from reference_backend.agents.supervisor.errors import InvalidContextError

# Ids that mean "someone forgot to pass the real one": accepting them would put
# unrelated users into one bucket.
PLACEHOLDER_IDS = frozenset(
    {
        "placeholder",
        "default",
        "none",
        "null",
        "nil",
        "undefined",
        "test",
        "mock",
        "fake",
        "dummy",
        "example",
        "temp",
        "tmp",
        "unknown",
        "anonymous",
        "system",
        "0",
        "-1",
    }
)
_DEPRECATED_KEYWORDS = ("session_id", "thread_id")


def _check_id(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidContextError(f"{name} must be a non-empty string, got {value!r}")
    if value.strip().lower() in PLACEHOLDER_IDS:
        raise InvalidContextError(f"{name}={value!r} is a placeholder, not a real id")
    return value


class UserExecutionContext:
    """Who a run belongs to: ``UserExecutionContext(user_id, run_id, **metadata)``, immutable.

    The legacy keywords ``session_id`` and ``thread_id`` are accepted with a
    DeprecationWarning and kept in ``metadata`` (the original raised TypeError).
    """

    __slots__ = ("user_id", "run_id", "metadata")
    user_id: str
    run_id: str
    metadata: Mapping[str, Any]

    def __init__(self, user_id: str, run_id: str, **metadata: Any) -> None:
        for keyword in _DEPRECATED_KEYWORDS:
            if keyword in metadata:
                warnings.warn(
                    f"UserExecutionContext({keyword}=...) is deprecated; it is kept in metadata",
                    DeprecationWarning,
                    stacklevel=2,
                )
        object.__setattr__(self, "user_id", _check_id("user_id", user_id))
        object.__setattr__(self, "run_id", _check_id("run_id", run_id))
        object.__setattr__(self, "metadata", MappingProxyType(dict(metadata)))

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"UserExecutionContext is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"UserExecutionContext is immutable: cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, UserExecutionContext):
            return NotImplemented
        return (self.user_id, self.run_id, dict(self.metadata)) == (
            other.user_id,
            other.run_id,
            dict(other.metadata),
        )

    def __hash__(self) -> int:
        return hash((self.user_id, self.run_id))

    def __repr__(self) -> str:
        return f"UserExecutionContext(user_id={self.user_id!r}, run_id={self.run_id!r})"
