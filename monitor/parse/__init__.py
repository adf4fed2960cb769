"""The parse stage: bytes into typed values.

Feeds (``parse_feed``: RSS/Atom through feedparser with an XML safety gate), OPML feed lists,
the one byte-decoding cascade shared by feeds and pages (``decode``), and Indonesian dates.
"""

from monitor.parse.decode import decode_html, repair_mojibake
from monitor.parse.feed import parse_feed
from monitor.parse.opml import check_feed_url, parse_opml, render_opml

__all__ = [
    "check_feed_url",
    "decode_html",
    "parse_feed",
    "parse_opml",
    "render_opml",
    "repair_mojibake",
]
