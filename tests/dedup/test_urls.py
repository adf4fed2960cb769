"""URL canonicalisation: the same article under any link variant gets one identity."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.dedup.urls import TRACKING_PARAMS, canonicalize_url, source_of

ARTICLE = "https://www.kompas.com/read/2024/01/10/12000011/stoltenberg-mundur-digantikan-rutte"


def test_six_link_variants_of_one_article_get_one_identity() -> None:
    variants = [
        ARTICLE,
        "http://kompas.com/read/2024/01/10/12000011/stoltenberg-mundur-digantikan-rutte"
        "?utm_source=facebook&utm_medium=social&utm_campaign=share",
        "https://amp.kompas.com/read/2024/01/10/12000011/stoltenberg-mundur-digantikan-rutte?amp=1",
        "https://m.kompas.com/read/2024/01/10/12000011/stoltenberg-mundur-digantikan-rutte/amp",
        "HTTPS://WWW.KOMPAS.COM:443/read/2024/01/10/12000011/stoltenberg-mundur-digantikan-rutte"
        "?page=all#comments",
        "https://www.kompas.com/read/2024/01/10/12000011/stoltenberg-mundur-digantikan-rutte"
        "?fbclid=IwAR0xyz&gclid=Cj0K&mc_cid=9f&ref=homepage&nd771104bcj=",
    ]
    assert {canonicalize_url(v) for v in variants} == {ARTICLE}


def test_declared_canonical_on_same_site_wins_over_the_link() -> None:
    link = "https://regional.kompas.com/read/2024/01/10/x?source=widget"
    declared = "https://www.kompas.com/read/2024/01/10/12000011/stoltenberg-mundur-digantikan-rutte"
    assert canonicalize_url(link, page_canonical=declared) == ARTICLE


def test_relative_declared_canonical_is_resolved_against_the_link() -> None:
    link = "https://www.kompas.com/read/2024/01/10/x"
    relative = "/read/2024/01/10/12000011/stoltenberg-mundur-digantikan-rutte"
    assert canonicalize_url(link, page_canonical=relative) == ARTICLE


@pytest.mark.parametrize(
    "declared",
    [
        "https://www.other-portal.com/read/2024/01/10/12000011/stoltenberg",  # another site
        "https://www.kompas.com/",  # template bug: every page "is" the homepage
        "javascript:void(0)",
        "http://[broken",
    ],
)
def test_untrustworthy_declared_canonical_is_ignored(declared: str) -> None:
    assert canonicalize_url(ARTICLE + "?utm_source=x", page_canonical=declared) == ARTICLE


def test_site_host_map_folds_a_mobile_host_onto_the_desktop_host() -> None:
    host_map = {"m.detik.com": "news.detik.com"}
    mobile = "https://m.detik.com/berita/d-7308481/dirut-bpjs?single=1"
    desktop = "https://news.detik.com/berita/d-7308481/dirut-bpjs"
    assert canonicalize_url(mobile, host_map=host_map) == desktop


def test_mobile_and_amp_mirror_hosts_fold_by_default() -> None:
    assert canonicalize_url("https://m.news.detik.com/a") == "https://news.detik.com/a"
    assert canonicalize_url("https://amp.kompas.com/a") == "https://www.kompas.com/a"
    assert canonicalize_url("https://kompas.com/a") == "https://www.kompas.com/a"


def test_section_subdomains_stay_distinct() -> None:
    assert canonicalize_url("https://regional.kompas.com/a") == "https://regional.kompas.com/a"
    assert canonicalize_url("https://nasional.kompas.com/a") != canonicalize_url(
        "https://regional.kompas.com/a"
    )


def test_single_page_view_is_the_article_but_later_pages_are_not() -> None:
    assert canonicalize_url(ARTICLE + "?page=all") == ARTICLE
    assert canonicalize_url(ARTICLE + "?page=1") == ARTICLE
    assert canonicalize_url(ARTICLE + "?single=1") == ARTICLE
    assert canonicalize_url(ARTICLE + "?page=2") == ARTICLE + "?page=2"
    assert canonicalize_url(ARTICLE + "?page=3") != canonicalize_url(ARTICLE + "?page=2")


def test_remaining_query_parameters_are_sorted_and_kept() -> None:
    assert canonicalize_url("https://www.example.com/news?id=7&cat=2") == canonicalize_url(
        "https://www.example.com/news?cat=2&id=7&utm_term=x"
    )
    assert canonicalize_url("https://www.example.com/news?id=7") != canonicalize_url(
        "https://www.example.com/news?id=8"
    )


def test_tracking_list_is_a_frozen_constant() -> None:
    assert isinstance(TRACKING_PARAMS, frozenset)
    assert {"fbclid", "gclid", "ref"} <= TRACKING_PARAMS


def test_path_case_trailing_slash_and_encoded_slash_are_kept() -> None:
    base = "https://www.example.com"
    assert canonicalize_url(base + "/Berita/A") != canonicalize_url(base + "/berita/a")
    assert canonicalize_url(base + "/a/") != canonicalize_url(base + "/a")
    assert canonicalize_url(base + "/a%2Fb") != canonicalize_url(base + "/a/b")
    assert canonicalize_url(base + "/a%7eb") == canonicalize_url(base + "/a~b")


def test_non_web_and_garbage_input_come_back_stripped() -> None:
    assert canonicalize_url("  mailto:redaksi@kompas.com ") == "mailto:redaksi@kompas.com"
    assert canonicalize_url("not a url") == "not a url"
    assert canonicalize_url("http://[::1") == "http://[::1"
    assert canonicalize_url("") == ""


@pytest.mark.parametrize(
    ("url", "site"),
    [
        ("https://www.kompas.com/read/x", "kompas.com"),
        ("https://regional.kompas.com/read/x", "kompas.com"),
        ("regional.kompas.com", "kompas.com"),
        ("https://news.detik.com/berita/d-1/x", "detik.com"),
        ("https://www.antaranews.com/berita/1", "antaranews.com"),
        ("https://kemlu.go.id/portal/id", "kemlu.go.id"),
        ("http://127.0.0.1:8080/x", "127.0.0.1"),
        ("", ""),
    ],
)
def test_source_is_the_registrable_site(url: str, site: str) -> None:
    assert source_of(url) == site


# --- properties ----------------------------------------------------------------------------

_HOSTS = st.sampled_from(
    ["www.kompas.com", "m.detik.com", "news.detik.com", "amp.tempo.co", "127.0.0.1", "localhost"]
)
# Path segment text: anything but the characters that end a path or start an escape, control
# characters (browsers strip tabs/newlines) and the AMP marker segment.
_SEGMENT = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="/?#%\\"),
    min_size=1,
    max_size=12,
).filter(lambda s: s.lower() != "amp")
_PATHS = st.lists(_SEGMENT, min_size=1, max_size=4).map(lambda segs: "/" + "/".join(segs))
_QUERY = st.lists(
    st.tuples(st.sampled_from(["utm_source", "id", "page", "amp", "fbclid", "q"]), st.text()),
    max_size=4,
)


@st.composite
def _urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTPS", "ftp", ""]))
    host = draw(_HOSTS)
    port = draw(st.sampled_from(["", ":80", ":443", ":8080", ":x"]))
    path = draw(_PATHS | st.text(max_size=30))
    query = "&".join(f"{k}={v}" for k, v in draw(_QUERY))
    fragment = draw(st.text(max_size=8))
    return f"{scheme}://{host}{port}{path}?{query}#{fragment}"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(url=st.one_of(st.text(), _urls()), declared=st.none() | st.text() | _urls())
def test_canonicalisation_never_raises_and_is_idempotent(url: str, declared: str | None) -> None:
    once = canonicalize_url(url, page_canonical=declared)
    assert isinstance(once, str)
    assert canonicalize_url(once) == once


@settings(max_examples=300)
@given(
    host=_HOSTS,
    first=_PATHS,
    second=_PATHS,
    query=st.sampled_from(["", "?utm_source=x", "?page=all", "?id=3"]),
)
def test_urls_that_differ_in_path_never_merge(
    host: str, first: str, second: str, query: str
) -> None:
    if first == second:
        return
    assert canonicalize_url(f"https://{host}{first}{query}") != canonicalize_url(
        f"https://{host}{second}{query}"
    )


@given(host=_HOSTS, path=_PATHS, junk=st.text(max_size=8))
def test_fragments_never_change_the_identity(host: str, path: str, junk: str) -> None:
    base = f"https://{host}{path}?id=1"
    assert canonicalize_url(f"{base}#{junk}") == canonicalize_url(base)
