"""The one decoding cascade feeds and pages share (monitor.parse.decode)."""

from __future__ import annotations

import pytest

from monitor.parse.decode import Markup, decode_bytes

TEXT = "Menlu: “NATO bukan ancaman” — Café Señor"
BOTH: list[Markup] = ["xml", "html"]


def page(charset: str | None, text: str = TEXT) -> str:
    meta = f'<meta charset="{charset}">' if charset else ""
    return f"<html><head>{meta}<title>{text}</title></head><body><p>{text}</p></body></html>"


@pytest.mark.parametrize("markup", BOTH)
def test_valid_utf8_wins_over_a_windows_1252_label(markup: Markup) -> None:
    decoded = decode_bytes(TEXT.encode(), http_charset="windows-1252", markup=markup)
    assert (decoded.text, decoded.encoding) == (TEXT, "utf-8")


@pytest.mark.parametrize("markup", BOTH)
def test_8_bit_text_labelled_utf16_is_not_read_as_utf16(markup: Markup) -> None:
    assert decode_bytes(TEXT.encode(), http_charset="utf-16", markup=markup).text == TEXT
    cp1252 = decode_bytes(TEXT.encode("cp1252"), http_charset="utf-16", markup=markup)
    assert cp1252.text == TEXT


@pytest.mark.parametrize("markup", BOTH)
def test_utf16_without_a_bom_follows_its_label(markup: Markup) -> None:
    content = page(None).encode("utf-16-le")
    assert decode_bytes(content, http_charset="utf-16-le", markup=markup).text == page(None)


def test_a_latin1_http_label_yields_to_the_documents_own_charset() -> None:
    # "ISO-8859-1" is a common server default; the page's <meta> knows better.
    russian = "«Мы не отступим»"
    content = page("windows-1251", russian).encode("cp1251")
    decoded = decode_bytes(content, http_charset="ISO-8859-1", markup="html")
    assert (decoded.text, decoded.encoding) == (page("windows-1251", russian), "cp1251")


@pytest.mark.parametrize("markup", BOTH)
def test_the_windows_1252_fallback_keeps_curly_quotes_beside_an_undefined_byte(
    markup: Markup,
) -> None:
    content = TEXT.encode("cp1252") + b" \x81"
    decoded = decode_bytes(content, markup=markup)
    assert decoded.text == TEXT + " \ufffd"
    assert decoded.encoding == "windows-1252"


def test_only_xml_is_sniffed_for_utf16_without_a_label() -> None:
    content = '<?xml version="1.0"?><rss/>'.encode("utf-16-be")
    assert decode_bytes(content, markup="xml").text == '<?xml version="1.0"?><rss/>'
    # HTML has no such rule: unlabelled bytes that are valid UTF-8 stay as they are.
    assert decode_bytes(b"a\x00b\x00", markup="html").text == "a\x00b\x00"


def test_a_guess_against_the_declared_charset_is_noted() -> None:
    decoded = decode_bytes(TEXT.encode("cp1252"), http_charset="utf-8", markup="xml")
    assert decoded.notes == [
        "declared encoding 'utf-8' does not match the content; decoded as windows-1252"
    ]
    assert decode_bytes(TEXT.encode(), http_charset="utf-8", markup="xml").notes == []
