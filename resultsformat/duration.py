"""The one duration syntax of every ``goldenpath`` verb: ``500ms``, ``90s``, ``5m``, ``1h30m``."""

from __future__ import annotations

import re
from typing import Final

_DURATION: Final = re.compile(
    r"(?:(?P<h>\d+(?:\.\d+)?)h)?"
    r"(?:(?P<m>\d+(?:\.\d+)?)m(?!s))?"
    r"(?:(?P<s>\d+(?:\.\d+)?)s)?"
    r"(?:(?P<ms>\d+(?:\.\d+)?)ms)?"
    r"(?P<bare>\d+(?:\.\d+)?)?"
)
_SCALE: Final = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "bare": 1.0}


def parse_duration(text: str, *, allow_zero: bool = False) -> float:
    """Seconds in ``text``: units h, m, s and ms in that order; a bare number is seconds.

    ``500ms`` -> 0.5, ``90s`` -> 90, ``5m`` -> 300, ``1h30m`` -> 5400, ``45`` -> 45.
    Raises :class:`ValueError` naming the problem for anything else, and for zero
    unless ``allow_zero`` (a think time or a warm-up window may be zero).
    """
    spec = text.strip()
    match = _DURATION.fullmatch(spec)
    parts = match.groupdict() if match else {}
    given = {unit: value for unit, value in parts.items() if value is not None}
    if not spec or not given or ("bare" in given and len(given) > 1):
        raise ValueError(f"invalid duration {text!r}: use e.g. 500ms, 90s, 5m, 1h30m")
    seconds = sum(float(value) * _SCALE[unit] for unit, value in given.items())
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError(f"duration {text!r} must be more than zero")
    return seconds
