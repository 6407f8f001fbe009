"""The audit's vocabulary: findings, the report and the errors a user can cause.

Exceptions::

    SSOTError                  anything the user can fix; the CLI exits 2 with one line
     ├── InputPathError        a PATH that does not exist or is not Python
     ├── CanonicalSpecError    a --canonical that is not MODULE:CLASS
     └── CanonicalNotFoundError  the canonical module or class is not in the tree
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "AuditReport",
    "CanonicalNotFoundError",
    "CanonicalSpecError",
    "FactoryFunction",
    "FileWarning",
    "Finding",
    "ImportCheck",
    "InputPathError",
    "Kind",
    "SSOTError",
]


class SSOTError(Exception):
    """Unusable input to the audit; the message is one line for the user."""


class InputPathError(SSOTError):
    """A path to audit does not exist or holds no Python."""


class CanonicalSpecError(SSOTError):
    """The canonical class is not given as ``MODULE:CLASS``."""


class CanonicalNotFoundError(SSOTError):
    """The canonical module or class is not in the audited tree."""


class Kind(StrEnum):
    """How a factory class (or a name for one) relates to the canonical class."""

    CANONICAL = "canonical"
    ALIAS = "alias"
    WRAPPER = "wrapper"
    SUBCLASS = "subclass"
    DUPLICATE = "duplicate"
    UNRESOLVED = "unresolved"
    TEST_DOUBLE = "test_double"


# Order of the kinds in every rendering.
KIND_ORDER: tuple[Kind, ...] = (
    Kind.CANONICAL,
    Kind.ALIAS,
    Kind.WRAPPER,
    Kind.SUBCLASS,
    Kind.DUPLICATE,
    Kind.UNRESOLVED,
    Kind.TEST_DOUBLE,
)


@dataclass(frozen=True, slots=True)
class ImportCheck:
    """What importing a reported path in a subprocess showed.

    ``status`` is ``confirmed`` (runtime agrees with the static finding),
    ``mismatch`` (it does not), ``unverified`` (imported, but the claim could not
    be tested, e.g. a wrapper that needs constructor arguments) or ``error``
    (the import failed or timed out).
    """

    status: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Finding:
    """One class definition, or one name bound to the canonical class (an alias)."""

    kind: Kind
    name: str
    module: str
    path: str
    line: int
    detail: str = ""
    conditional: bool = False
    non_forwarding: tuple[str, ...] = ()
    reachable_at: tuple[str, ...] = ()
    import_check: ImportCheck | None = None
    # An alias that is only a consumer's `from x import Name` (not a re-export
    # from a package, not a rename): listed in JSON, summarized in the table.
    plain_import: bool = False

    @property
    def import_path(self) -> str:
        """Where the object is imported from, as ``module:Name``."""
        return f"{self.module}:{self.name}"

    @property
    def location(self) -> str:
        """``path:line`` of the definition or binding."""
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class FactoryFunction:
    """A module-level function whose name matches a function pattern."""

    name: str
    module: str
    path: str
    line: int
    returns_canonical: bool
    calls_canonical: bool
    in_tests: bool = False

    @property
    def import_path(self) -> str:
        """Where the function is imported from, as ``module:name``."""
        return f"{self.module}:{self.name}"

    @property
    def location(self) -> str:
        """``path:line`` of the definition."""
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class FileWarning:
    """A file that could not be read or parsed; the audit goes on without it."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(slots=True)
class AuditReport:
    """Everything one audit found, plus the verdict against ``max_duplicates``."""

    canonical: str
    patterns: tuple[str, ...]
    function_patterns: tuple[str, ...]
    max_duplicates: int
    findings: list[Finding] = field(default_factory=list)
    functions: list[FactoryFunction] = field(default_factory=list)
    warnings: list[FileWarning] = field(default_factory=list)
    files_scanned: int = 0
    elapsed_s: float = 0.0
    import_checked: bool = False

    def of_kind(self, kind: Kind) -> list[Finding]:
        """The findings of one kind, in report order."""
        return [f for f in self.findings if f.kind is kind]

    @property
    def duplicates(self) -> list[Finding]:
        """Independent duplicate implementations of the canonical class."""
        return self.of_kind(Kind.DUPLICATE)

    @property
    def implementations(self) -> int:
        """The remediation plan's metric: canonical definitions plus duplicates."""
        return len(self.of_kind(Kind.CANONICAL)) + len(self.duplicates)

    @property
    def import_mismatches(self) -> list[Finding]:
        """Aliases, wrappers and subclasses whose import check contradicted them."""
        claimed = {Kind.CANONICAL, Kind.ALIAS, Kind.WRAPPER, Kind.SUBCLASS}
        return [
            f
            for f in self.findings
            if f.kind in claimed and f.import_check and f.import_check.status == "mismatch"
        ]

    @property
    def passed(self) -> bool:
        """True when duplicates are within the allowance and no import path lied."""
        return len(self.duplicates) <= self.max_duplicates and not self.import_mismatches

    def counts(self) -> dict[str, int]:
        """How many findings of each kind, plus functions and implementations."""
        out = {kind.value: len(self.of_kind(kind)) for kind in KIND_ORDER}
        out["functions"] = len(self.functions)
        out["implementations"] = self.implementations
        return out
