"""OPML: the feed lists other readers import and export (``pantau feeds import-opml``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol
from urllib.parse import urlsplit
from xml.etree import ElementTree

from monitor.errors import ConfigError
from monitor.models import FeedSpec

_UNSAFE_XML = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class NamedFeed(Protocol):
    @property
    def url(self) -> str: ...

    @property
    def name(self) -> str: ...


def check_feed_url(url: str, where: str) -> str:
    """An absolute http(s) URL with a host, or ConfigError saying what is wrong."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: url: {url!r} is not an absolute http(s) URL")
    return url


def parse_opml(data: bytes, source: str) -> list[FeedSpec]:
    """Feeds of an OPML document (every ``outline`` with an ``xmlUrl``, at any depth).

    The stdlib parser expands internal entities, so any DOCTYPE or ENTITY declaration is
    refused before parsing ("billion laughs"); OPML never needs one.
    """
    if _UNSAFE_XML.search(data):
        raise ConfigError(
            f"{source}: refused: the OPML declares a DOCTYPE or entities, which Pantau does "
            "not expand (remove the <!DOCTYPE ...> line)"
        )
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise ConfigError(f"{source}: not valid OPML/XML: {exc}") from exc
    if root.tag.lower() != "opml":
        raise ConfigError(f"{source}: not OPML (the root element is <{root.tag}>)")
    specs: list[FeedSpec] = []
    urls: set[str] = set()
    for i, outline in enumerate(root.iter("outline")):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if not url:
            continue  # a folder
        url = check_feed_url(url, f"{source}: outline {i + 1}")
        if url in urls:
            continue
        urls.add(url)
        name = (outline.get("title") or outline.get("text") or "").strip()
        specs.append(FeedSpec(url=url, name=name))
    return specs


def render_opml(feeds: Sequence[NamedFeed], *, title: str = "Pantau feeds") -> str:
    root = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(root, "head")
    ElementTree.SubElement(head, "title").text = title
    body = ElementTree.SubElement(root, "body")
    for feed in feeds:
        name = feed.name or feed.url
        ElementTree.SubElement(body, "outline", type="rss", text=name, title=name, xmlUrl=feed.url)
    ElementTree.indent(root)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        + ElementTree.tostring(root, encoding="unicode")
        + "\n"
    )
