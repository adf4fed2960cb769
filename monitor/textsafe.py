"""Untrusted text made safe to print on a terminal.

Feed titles, page text, server error phrases and database rows are written by strangers. A
title carrying ``&#27;]0;pwned&#7;`` decodes to an escape sequence that retitles the operator's
terminal window; ``ESC[2J`` clears the screen, others rewrite what was printed before or
(on some terminals) answer back into the shell. :func:`for_terminal` removes whole escape
sequences first (so their parameters do not linger as litter) and then every C0 and C1 control
character and DEL. Only what goes to a terminal or a human log is filtered: stored text and
JSON output (``json.dumps`` escapes control characters) stay exact.
"""

from __future__ import annotations

import re

# ESC-introduced sequences, and their single-byte C1 forms (0x9b CSI, 0x9d OSC, 0x90 DCS ...):
#   CSI  ESC [ params intermediates final      (cursor moves, clear screen, colours)
#   OSC / DCS / SOS / PM / APC  ESC ] ... BEL or ST   (window title, hyperlinks, clipboard)
#   any other ESC + one character               (ESC c resets the terminal)
# An unterminated string sequence loses only its introducer: its text stays readable rather
# than taking the rest of the line (the URL of an alert) with it.
_ESCAPES = re.compile(
    r"""
      (?:\x1b\[|\x9b) [\x30-\x3f]* [\x20-\x2f]* [\x40-\x7e]?
    | (?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f]) [^\x07\x1b\x9c]* (?:\x07|\x1b\\|\x9c)
    | \x1b [\x20-\x2f]* [\x30-\x7e]?
    """,
    re.VERBOSE | re.DOTALL,
)
_CONTROLS_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROLS_MULTILINE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # keeps \t and \n
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\t\v\f\x85\u2028\u2029]")


def for_terminal(text: str, *, multiline: bool = False) -> str:
    """``text`` without escape sequences or control characters.

    One line by default: a tab or line break becomes a space, so a title cannot forge a second
    line of output. ``multiline=True`` keeps tabs and newlines (log records with tracebacks,
    snippets printed as paragraphs); a lone carriage return, which would let text overwrite its
    own line, is still removed."""
    if text.isprintable():  # the usual case: nothing to do
        return text
    text = _ESCAPES.sub("", text)
    if multiline:
        return _CONTROLS_MULTILINE.sub("", text.replace("\r\n", "\n"))
    return _CONTROLS_ONE_LINE.sub("", _LINE_BREAKS.sub(" ", text))


__all__ = ["for_terminal"]
