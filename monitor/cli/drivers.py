"""The database driver a configured URL needs, checked before anything opens the database.

``psycopg`` is an optional extra: without it a PostgreSQL URL must give one line that says what
to install, from every command and from ``pantau config check``, never a traceback.
"""

from __future__ import annotations

import importlib

from monitor.config import Settings
from monitor.errors import ConfigError
from storage.engine import hide_password

POSTGRES_EXTRA = "pip install 'pantau[postgres]'"
_POSTGRES_SCHEMES = ("postgresql", "postgres")


def database_driver_problem(url: str) -> str | None:
    """One line naming what to install when ``url`` needs a driver that is missing."""
    scheme = url.split("://", 1)[0].lower()
    dialect, _, driver = scheme.partition("+")
    if dialect not in _POSTGRES_SCHEMES:
        return None
    module = driver or "psycopg"  # storage.engine turns postgresql:// into postgresql+psycopg
    try:
        importlib.import_module(module)
    except ImportError:
        install = POSTGRES_EXTRA if module == "psycopg" else f"pip install {module}"
        return (
            f"the database URL {hide_password(url)} needs the PostgreSQL driver {module}, "
            f"which is not installed: {install}"
        )
    return None


def require_database_driver(settings: Settings) -> Settings:
    """``settings`` unchanged, or ConfigError (exit 2 through ``cli_errors``) naming the extra."""
    problem = database_driver_problem(settings.database_url)
    if problem is not None:
        raise ConfigError(problem)
    return settings
