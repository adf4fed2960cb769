"""Errors the storage layer raises on purpose.

``storage`` never imports ``monitor``; the agent maps these onto its own ``StorageError``.
Messages are written for the operator: what is wrong and what to do.

    SchemaError                     the database schema cannot be used as it is
    ├── SchemaTooNewError           the database was upgraded by a newer Pantau
    ├── SchemaOutdatedError         the database needs ``pantau db upgrade`` (auto-upgrade off)
    └── SchemaMismatchError         tables exist but are not a schema Pantau knows
"""

from __future__ import annotations


class SchemaError(Exception):
    """The database schema cannot be used by this version of Pantau."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SchemaTooNewError(SchemaError):
    def __init__(self, current: str, head: str) -> None:
        super().__init__(
            f"database schema {current} is newer than this Pantau (head {head}): upgrade Pantau"
        )
        self.current = current
        self.head = head


class SchemaOutdatedError(SchemaError):
    def __init__(self, current: str | None, head: str) -> None:
        super().__init__(
            f"database schema {current or 'empty'} is older than this Pantau (head {head}) "
            "and auto_upgrade is off: run `pantau db upgrade`"
        )
        self.current = current
        self.head = head


class SchemaMismatchError(SchemaError):
    """Tables exist without a recorded revision and do not match the first schema version."""
