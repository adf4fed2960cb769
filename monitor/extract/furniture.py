"""Page furniture that survives extraction: related-article links, captions, tags, share bars.

A "Baca juga: Putin ..." link under a football report must not raise a Putin alert, so the
matcher only sees the article's own lines. Everything here works line by line, keeps the lines it
does not remove untouched, and is idempotent (``strip(strip(x)) == strip(x)``).
"""

from __future__ import annotations

import re

# A line starting with one of these is a link to another article; the rest of the line is its
# headline. "Baca juga:" alone on a line introduces headline lines below it.
_LINK_LEAD = (
    r"baca(?:\s+juga|\s+pula|\s+selengkapnya(?:\s+di)?|\s+berita\s+lainnya|\s+artikel\s+lainnya)?"
    r"|simak(?:\s+juga|\s+pula|\s+video|\s+berita)?|lihat\s+juga|tonton\s+juga|tonton\s+video"
    r"|cek\s+juga|berita\s+terkait|artikel\s+terkait|berita\s+lainnya|artikel\s+lainnya"
    r"|berita\s+pilihan|terpopuler|populer|rekomendasi|cobain\s+baca\s+artikel\s+lainnya(?:\s+seperti)?"
    r"|read\s+(?:also|more|next)|also\s+read|see\s+also|related(?:\s+(?:articles?|posts?|news|stories))?"
    r"|more\s+on\s+this|recommended|trending|eksplorasi\s+lebih\s+dalam(?:\s+tentang\s+topik)?"
)
_LINK_LINE = re.compile(rf"^[\W_]*(?:{_LINK_LEAD})\b\s*(?:[:>»|\-–—]|\.{{3}}|…)", re.IGNORECASE)
_LINK_HEADING = re.compile(rf"^[\W_]*(?:{_LINK_LEAD})\s*(?:[:>»|\-–—]|\.{{3}}|…)?\s*$", re.I)

# Whole lines that are captions, credits, tag lists, share bars, ads or boilerplate.
_FURNITURE_LEAD = (
    r"^[\W_]*(?:"
    r"sumber\s+(?:gambar|foto|image)|foto|photo|gambar|image|ilustrasi|caption|keterangan\s+foto"
    r"|kredit\s+foto|credit|tags?|topik(?:\s+terkait)?|kata\s+kunci|keywords?|filed\s+under"
    r"|editor|penulis|reporter|pewarta|author|ditulis\s+oleh|written\s+by"
    r")\s*[:|]"
    r"|^[\W_]*(?:share\s+this(?:\s+article|\s+post)?|bagikan(?:\s+artikel(?:\s+ini)?)?"
    r"|ad\s+image|advertisement|iklan|scroll\s+to\s+continue.*|gulir\s+untuk\s+melanjutkan.*"
    r"|author|copy\s+link|salin\s+tautan|komentar|comments?|print|cetak"
    r"|baca\s+selengkapnya.{0,60}|read\s+more.{0,60}"
    r"|\d+\s+min(?:ute)?s?\s+read|dibaca\s+\d+\s+menit)\W*$"
    r"|^\W*(?:copyright|hak\s+cipta|©|\(c\)).*$"
    r"|^\W*(?:https?://|www\.)\S*\W*$"
)
# "... All rights reserved." ends a line: matched on the reversed line, so that a long
# paragraph costs one failed look at its last characters instead of a scan along it.
_RESERVED_REVERSED = re.compile(r"\W*devreser\s+s?thgir\s+lla", re.IGNORECASE)

# A short line ending in a photo credit is a caption: "... (Ilustrasi)", "(REUTERS/Gleb Garanich)".
_CAPTION = re.compile(
    r"\((?:(?:foto|ilustrasi|photo|dok|dokumentasi|ist|istimewa|getty|antara\s+foto|sumber\s+foto)"
    r"\b[^()]*|(?:reuters|afp|ap|antara|anadolu|tass|epa|xinhua)\s*/[^()]*)\)\W*$",
    re.IGNORECASE,
)
_CAPTION_MAX = 200
# An agency sign-off closing the last paragraph, "(antara/jpnn)", "(ant/rid)": all lower-case
# initials with no spaces, unlike a photo credit "(ANTARA FOTO/Aditya Pradana Putra)".
_SIGN_OFF = re.compile(r"[.!?\"”]\s*\((?:[a-z]{2,10}/)+[a-z]{2,10}\)\W*$")

# From one of these lines on, the page is comments and footer, never article text.
_END = re.compile(
    r"^\W*(?:leave\s+a\s+reply|leave\s+a\s+comment|tinggalkan\s+(?:balasan|komentar)"
    r"|your\s+email\s+address\s+will\s+not\s+be\s+published.*|related\s+posts?)\W*$",
    re.IGNORECASE,
)

# Every line-start pattern in one pass; the group that matched says what the line is, tried in
# the order the lines are judged: the end of the article, a bare "Baca juga:", then links and
# furniture (a headline under a bare "Baca juga:" is told apart before those).
_LINE = re.compile(
    rf"(?P<end>{_END.pattern})|(?P<heading>{_LINK_HEADING.pattern})"
    rf"|(?P<link>{_LINK_LINE.pattern})|(?P<furniture>{_FURNITURE_LEAD})",
    re.IGNORECASE,
)

_HEADLINE_MAX = 160
_LINKS_MAX = 5  # headlines listed under one bare "Baca juga:" line


def _is_caption(line: str) -> bool:
    return len(line) <= _CAPTION_MAX and bool(_CAPTION.search(line)) and not _SIGN_OFF.search(line)


def _looks_like_headline(line: str) -> bool:
    # A linked headline: short, one line, not a finished sentence.
    return 0 < len(line) <= _HEADLINE_MAX and not line.rstrip("\"'”’").endswith((".", "!", "?"))


def strip_furniture(body: str) -> str:
    """Remove furniture lines from extracted article text; keep every other line as it is."""
    lines = body.splitlines()
    kept: list[str] = []
    links_left = 0
    for raw in lines:
        line = raw.strip()
        if not line:  # (no end marker is blank)
            kept.append(raw)
            continue
        m = _LINE.match(line)
        what = m.lastgroup if m is not None else None
        if what == "end":
            break
        if what == "heading":
            links_left = _LINKS_MAX
            continue
        if links_left and _looks_like_headline(line):
            links_left -= 1
            continue
        links_left = 0
        if what is not None or _RESERVED_REVERSED.match(line[::-1]) or _is_caption(line):
            continue
        kept.append(raw)
    return "\n".join(kept).strip("\n")
