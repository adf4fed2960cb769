"""Bytes -> text for feeds and pages alike: one decoding cascade, then mojibake repair.

Charset labels lie (windows-1252 sent as UTF-8 and the reverse), so labels are hints and the
bytes decide. :func:`decode_bytes` tries, in order:

1. a byte order mark;
2. for XML, the byte patterns of the XML spec's Appendix F (UTF-16/32 or EBCDIC without a BOM);
3. a declared UTF-16/32, when the bytes hold NULs (8-bit text labelled UTF-16 is not UTF-16);
4. strict UTF-8: valid UTF-8 is almost never anything else, whatever the labels say;
5. the other declared charsets in order -- the HTTP header, then the document's own declaration
   (the XML declaration; for HTML also ``<meta charset>``) -- skipping UTF-8, which failed, and
   the Latin-1/ASCII labels, which mean windows-1252 in practice (servers say ISO-8859-1 and
   send curly quotes) and so wait for the last step;
6. windows-1252, which never fails (its five undefined bytes become U+FFFD).

Text that a CMS double-encoded ("Lâ€™OrÃ©al") is repaired afterwards, where it is used, by
:func:`repair_mojibake`.
"""

from __future__ import annotations

import codecs
import contextlib
import re
from dataclasses import dataclass
from typing import Literal

Markup = Literal["xml", "html"]

HEAD_BYTES = 4096  # where a document's own charset declaration must be
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_XML_DECL_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)""")
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE
)
_UTF8 = frozenset({"utf-8", "utf-8-sig"})
_LATIN1 = frozenset({"iso8859-1", "ascii"})  # codec names of labels read as windows-1252
_WIDE = ("utf-16", "utf-32")
_WINDOWS_1252 = "windows-1252"


@dataclass(frozen=True)
class Decoded:
    """Decoded text, the codec that decoded it and the charset labels that were declared."""

    text: str
    encoding: str
    declared: tuple[str, ...] = ()
    guessed: bool = False  # True when the bytes, not a BOM or a label, chose the encoding

    @property
    def notes(self) -> list[str]:
        """A diagnostic when the bytes overruled the first declared charset."""
        if not self.guessed or not self.declared:
            return []
        first = self.declared[0]
        name = codec_name(first)
        same = _UTF8 if self.encoding == "utf-8" else _LATIN1 | {"cp1252"}
        if name == "ascii" or name in same:
            return []
        used = self.encoding
        return [f"declared encoding {first!r} does not match the content; decoded as {used}"]


def declared_charsets(content: bytes, markup: Markup) -> list[str]:
    """Charsets a document declares about itself: the XML declaration, and for HTML also
    ``<meta charset>`` / ``<meta http-equiv=Content-Type>``, within the first 4 KiB."""
    head = content[:HEAD_BYTES]
    found = [m.group(1).decode("ascii") for m in _XML_DECL_ENCODING.finditer(head)]
    if markup == "html":
        found += [m.group(1).decode("ascii") for m in _META_CHARSET.finditer(head)]
    return found


def codec_name(label: str) -> str | None:
    """Python's codec name for a charset label; None for unknown labels (and junk)."""
    try:
        return codecs.lookup(label.strip().lower()).name
    except (LookupError, ValueError):  # ValueError: junk such as an embedded NUL
        return None


def decode_bytes(content: bytes, *, http_charset: str | None = None, markup: Markup) -> Decoded:
    """Decode a feed (``markup="xml"``) or a page (``"html"``) without mojibake; never fails."""
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            return Decoded(content[len(bom) :].decode(encoding, errors="replace"), encoding)
    if markup == "xml":
        sniffed = _sniff_xml(content[:4])
        if sniffed:
            return Decoded(content.decode(sniffed, errors="replace"), sniffed)
    labels = tuple(x for x in (http_charset, *declared_charsets(content, markup)) if x)
    names = [n for n in map(codec_name, labels) if n]
    if b"\x00" in content:
        for name in (n for n in names if n.startswith(_WIDE)):
            with contextlib.suppress(UnicodeError):
                return Decoded(content.decode(name), name, labels)
    with contextlib.suppress(UnicodeDecodeError):
        return Decoded(content.decode("utf-8"), "utf-8", labels, guessed=True)
    for name in names:
        if name.startswith(_WIDE) or name in _UTF8 or name in _LATIN1:
            continue
        with contextlib.suppress(UnicodeError, LookupError):  # "base64" is no text encoding
            return Decoded(content.decode(name), name, labels)
    text = content.decode("cp1252", errors="replace")
    return Decoded(text, _WINDOWS_1252, labels, guessed=True)


def decode_html(content: bytes, http_charset: str | None = None) -> str:
    """A page's text (see :func:`decode_bytes`)."""
    return decode_bytes(content, http_charset=http_charset, markup="html").text


def _sniff_xml(head: bytes) -> str | None:
    """UTF-16/32 (or EBCDIC) recognised by where the NUL bytes of '<' sit."""
    if len(head) < 4:
        return None
    if head[:3] == b"\x00\x00\x00" and head[3]:
        return "utf-32-be"
    if head[0] and head[1:4] == b"\x00\x00\x00":
        return "utf-32-le"
    if head[0] == 0 and head[1] and head[2] == 0:
        return "utf-16-be"
    if head[0] and head[1] == 0 and head[3] == 0:
        return "utf-16-le"
    if head == b"\x4c\x6f\xa7\x94":  # '<?xm' in EBCDIC
        return "cp037"
    return None


# --- mojibake ---------------------------------------------------------------------------------


def _mojibake_pattern() -> tuple[re.Pattern[str], dict[str, int]]:
    """UTF-8 byte sequences that were decoded as windows-1252 (or Latin-1) by mistake."""
    to_byte: dict[str, int] = {}
    for byte in range(0x80, 0x100):
        to_byte[chr(byte)] = byte  # Latin-1 view, covers cp1252's undefined 0x81 0x8D ...
        with contextlib.suppress(UnicodeDecodeError):
            to_byte[bytes([byte]).decode("cp1252")] = byte
    cont = "".join(re.escape(c) for c, b in to_byte.items() if 0x80 <= b <= 0xBF)
    lead2 = "".join(re.escape(c) for c, b in to_byte.items() if 0xC2 <= b <= 0xDF)
    lead3 = "".join(re.escape(c) for c, b in to_byte.items() if 0xE0 <= b <= 0xEF)
    lead4 = "".join(re.escape(c) for c, b in to_byte.items() if 0xF0 <= b <= 0xF4)
    pattern = re.compile(f"[{lead2}][{cont}]|[{lead3}][{cont}]{{2}}|[{lead4}][{cont}]{{3}}")
    return pattern, to_byte


_MOJIBAKE, _TO_BYTE = _mojibake_pattern()


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 read as windows-1252 ("Lâ€™OrÃ©al" -> "L’Oréal"); other text unchanged."""

    def fix(match: re.Match[str]) -> str:
        raw = bytes(_TO_BYTE[c] for c in match.group())
        try:
            repaired = raw.decode("utf-8")
        except UnicodeDecodeError:
            return match.group()
        # C1 controls never occur in real text: the match was genuine windows-1252 text.
        return match.group() if "\x80" <= repaired <= "\x9f" else repaired

    return _MOJIBAKE.sub(fix, text)
