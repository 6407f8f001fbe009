"""The canonical factory's errors::

FactoryError
├── InvalidContextError     empty or placeholder ids, wrong context type
├── UserEngineLimitError    a user already holds max_engines_per_user engines
└── FactoryShutdownError    the factory is shutting down
"""

from __future__ import annotations


class FactoryError(Exception):
    """Base of the factory's errors."""


class InvalidContextError(FactoryError, ValueError):
    """A context with an empty or placeholder id, or not a UserExecutionContext."""


class UserEngineLimitError(FactoryError):
    """The user already holds the most engines allowed."""


class FactoryShutdownError(FactoryError):
    """The factory is shutting down and creates no more engines."""
