"""Database URLs shown without their passwords.

``storage`` and ``monitor`` both show database URLs (errors, ``pantau status``, logs), and a URL
may carry the password; :func:`hide_password` is the one function that masks it. It has no
dependencies, so the settings layer can use it without loading the database machinery.
"""

from __future__ import annotations

import re

MASK = "***"

# scheme://user:password@host (the password runs to the last "@" before the path) and libpq's
# password=... (in a URL's query or a key=value connection string).
_URL_PASSWORD = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^\s/:@\"'<>]*):[^\s/\"'<>]+@")
_PASSWORD_PARAM = re.compile(r"(?i)(\b(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&\"'<>]+)")


def hide_password(text: str) -> str:
    """A database URL (or any text holding URLs) with every password replaced by ``***``:
    ``postgresql://pantau:***@db/pantau``. The one place that knows how a password is written."""
    text = _URL_PASSWORD.sub(r"\1:" + MASK + "@", text)
    return _PASSWORD_PARAM.sub(r"\1" + MASK, text)
