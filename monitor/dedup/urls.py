"""URL identity: one canonical string per article, whatever link we reached it by.

Pure functions, no I/O. ``canonicalize_url`` runs before any identity is computed (article
rows, dedup index, alert keys), so its rules are deliberately conservative: it folds the
variants that news portals hand out for the *same* page and never folds two different paths
into one (except the explicit AMP rule below).

Decisions (each one is what the portals we watch actually do):

* Scheme: ``http`` is folded into ``https`` -- every portal we watch serves https and links
  both forms. Other schemes are returned untouched (stripped), they are not articles.
* Host: lower-cased, trailing dot, user-info and the scheme's default port dropped. A
  caller-supplied ``host_map`` is applied first (site-specific knowledge such as
  ``{"m.detik.com": "news.detik.com"}``). Then, by default, leading ``www.``, ``m.``,
  ``mobile.`` and ``amp.`` labels are peeled off, and a host that is left as the bare
  registrable domain gets ``www.`` back: ``m.kompas.com``, ``amp.kompas.com`` and
  ``kompas.com`` all become ``www.kompas.com``; ``m.news.detik.com`` becomes
  ``news.detik.com``. Sites whose mobile host does not mirror the desktop host this way
  (detik's ``m.detik.com/news/...``) need a ``host_map`` entry; the path still has to match.
* Path: case and trailing slash are kept (``/a`` and ``/a/`` stay different: we never merge
  different paths; the body hash still catches such copies as duplicates). Percent-encoding
  is normalised per segment on the raw bytes, so ``%41`` == ``A`` but ``%2F`` stays distinct
  from ``/``. A segment that is exactly ``amp`` is the AMP variant and is removed.
* Query: tracking parameters (:data:`TRACKING_PARAMS`, :data:`TRACKING_PREFIXES`, detik's
  rotating ``nd<digits>bcj``) and AMP switches (``amp``, ``outputType=amp``) are dropped.
  ``page=all``, ``page=1``, ``single=1`` and ``showall=1`` are the one-page views of the
  article itself and are dropped too; ``page=2`` and later carry different text and are kept.
  The rest is sorted by key (values of a repeated key keep their order).
* Fragment: dropped.
* ``page_canonical`` (``rel=canonical`` / ``og:url``) wins when it is an http(s) URL on the
  same registrable site -- except when it points at the site root while the page does not
  (a template bug seen in the wild that would otherwise merge every article of the site).

courlan's ``normalize_url`` is not used as-is: it collapses ``//`` in paths, deletes
whitespace inside URLs and its tracker regex drops ids such as ``cid``/``uid``, each of which
can merge two different articles. We reuse courlan for the registrable-domain lookup.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import (
    SplitResult,
    parse_qsl,
    quote,
    unquote_to_bytes,
    urlencode,
    urljoin,
    urlsplit,
    urlunsplit,
)

from courlan import extract_domain

__all__ = [
    "AMP_HOST_PREFIXES",
    "TRACKING_PARAMS",
    "TRACKING_PREFIXES",
    "VIEW_PARAMS",
    "canonicalize_url",
    "source_of",
]

# Query keys (compared lower-case) that only say how the reader arrived.
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        # ad/click ids
        "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "fbclid", "msclkid", "yclid", "twclid",
        "ttclid", "igshid", "igsh", "li_fat_id", "epik", "mkt_tok", "rb_clickid", "s_cid",
        "_ga", "_gl", "_gac", "_openstat", "_hsenc", "_hsmi", "__hssc", "__hstc", "__hsfp",
        "mc_cid", "mc_eid", "oly_anon_id", "oly_enc_id", "vero_conv", "vero_id", "wickedid",
        # referral / share / placement markers
        "ref", "ref_src", "ref_url", "referrer", "referer", "source", "src", "via",
        "tag_from", "share", "shared", "sharetype", "spm", "cmp", "cmpid", "icid", "ocid",
        "xtor", "sr_share", "wt_mc", "trk", "trkcampaign", "rss", "feed", "fromrss",
        "ito", "dicbo", "mbid", "at_medium", "at_campaign", "at_custom1", "at_custom2",
        "at_custom3", "at_custom4", "cx_testid", "cx_testvariant",
    }
)  # fmt: skip

# Query key prefixes (lower-case) of tracking families: utm_source, mc_cid, pk_kwd, ...
TRACKING_PREFIXES: tuple[str, ...] = (
    "utm_", "mc_", "pk_", "mtm_", "matomo_", "hsa_", "ga_", "fb_", "ns_", "itm_", "__hs",
)  # fmt: skip

# detik.com appends rotating keys such as ``nd771104bcj=`` or ``nd992203605=`` to links.
_ROTATING_TRACKER = re.compile(r"nd\d{6,}(?:bcj)?")

# (key, value) pairs, lower-case, that select a *view* of the same article: the AMP page or
# the all-on-one-page rendering. Real page numbers (page=2, ...) are kept.
VIEW_PARAMS: frozenset[tuple[str, str]] = frozenset(
    {
        ("page", "all"), ("page", "1"), ("single", "1"), ("single", "true"),
        ("showall", "1"), ("showall", "true"), ("outputtype", "amp"),
    }
)  # fmt: skip

# Leading host labels that mark a mobile/AMP/www mirror of the same site.
AMP_HOST_PREFIXES: tuple[str, ...] = ("www.", "m.", "mobile.", "amp.")

_DEFAULT_PORTS = {"http": "80", "https": "443"}
# RFC 3986 pchar minus "/" (letters, digits and "_.-~" are always safe for quote()).
_PATH_SAFE = "!$&'()*+,;=:@"
_MAX_HOST_ROUNDS = 8


def canonicalize_url(
    url: str,
    *,
    page_canonical: str | None = None,
    host_map: Mapping[str, str] | None = None,
) -> str:
    """Return the canonical form of ``url``; best effort, never raises, idempotent."""
    hosts = host_map or {}
    try:
        own = _canonical(url.strip(), hosts)
    except Exception:  # any input, any failure: the stripped text is the best answer
        return url.strip() if isinstance(url, str) else ""
    if not page_canonical:
        return own
    try:
        declared = _canonical(urljoin(own, page_canonical.strip()), hosts)
    except Exception:  # a broken rel=canonical is the page's problem, not ours
        return own
    return declared if _trust_declared(own, declared) else own


def source_of(url: str) -> str:
    """Site name for "also reported by": the registrable domain (``kompas.com``).

    Accepts a URL or a bare host; falls back to the host without ``www.`` for hosts that
    have no registrable domain (IP addresses, ``localhost``) and to ``""`` for garbage.
    """
    try:
        text = url.strip()
        if "://" not in text:
            text = "https://" + text.lstrip("/")
        host = _split_host(urlsplit(text).netloc)[0].lower().rstrip(".")
        if not host:
            return ""
        domain = extract_domain("https://" + host)
        if domain:
            return str(domain)
        return host.removeprefix("www.")
    except Exception:  # a display name must never break the pipeline
        return ""


def _canonical(url: str, host_map: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host, port = _split_host(parts.netloc)
    host = host.lower().rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host:
        return url  # not a web page address: nothing to canonicalise
    host = _canonical_host(host, host_map)
    # The result is https, so https's default port goes too (http://x:443 is https://x).
    netloc = host if port in ("", "443", _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _canonical_path(parts.path)
    query = _canonical_query(parts.query)
    return urlunsplit(SplitResult("https", netloc, path, query, ""))


def _split_host(netloc: str) -> tuple[str, str]:
    """(host, port) from a netloc, user-info dropped; IPv6 brackets kept."""
    hostport = netloc.rpartition("@")[2]
    if hostport.startswith("["):
        host, _, rest = hostport.partition("]")
        return host + "]", rest.removeprefix(":")
    host, _, port = hostport.partition(":")
    return host, port


def _canonical_host(host: str, host_map: Mapping[str, str]) -> str:
    # Iterate to a fixed point so that a second pass changes nothing (idempotence) even
    # when a host_map target is itself a mirror host; a cyclic map stops after a few rounds.
    for _ in range(_MAX_HOST_ROUNDS):
        mapped = _fold_mirror_host(host_map.get(host, host).lower().rstrip("."))
        if mapped == host:
            break
        host = mapped
    return host


def _fold_mirror_host(host: str) -> str:
    site = extract_domain("https://" + host) if host else None
    if not site or not host.endswith(site):
        return host
    stripped = host
    while stripped != site:
        prefix = next((p for p in AMP_HOST_PREFIXES if stripped.startswith(p)), None)
        if prefix is None or not stripped[len(prefix) :].endswith(site):
            break
        stripped = stripped[len(prefix) :]
    return "www." + site if stripped == site else stripped


def _canonical_path(path: str) -> str:
    if not path:
        return "/"
    segments = [quote(unquote_to_bytes(s), safe=_PATH_SAFE) for s in path.split("/")]
    # "/amp" segments are the AMP rendering of the same page. Keep the leading "" (absolute
    # path) and, for a trailing "/amp/", the trailing "" that marks the slash.
    kept = [s for s in segments if s.lower() != "amp"]
    joined = "/".join(kept)
    return joined if joined.startswith("/") else "/" + joined


def _is_noise_param(key: str, value: str) -> bool:
    k = key.lower()
    return (
        k in TRACKING_PARAMS
        or k.startswith(TRACKING_PREFIXES)
        or _ROTATING_TRACKER.fullmatch(k) is not None
        or k == "amp"
        or (k, value.lower()) in VIEW_PARAMS
    )


def _canonical_query(query: str) -> str:
    if not query:
        return ""
    # surrogateescape keeps undecodable %XX bytes as they are, so two different queries
    # never decode to the same text.
    pairs = parse_qsl(query, keep_blank_values=True, errors="surrogateescape")
    kept = sorted(((k, v) for k, v in pairs if not _is_noise_param(k, v)), key=lambda kv: kv[0])
    return urlencode(kept, errors="surrogateescape")


def _trust_declared(own: str, declared: str) -> bool:
    if not declared.startswith("https://") or not own.startswith("https://"):
        return False
    if source_of(declared) != source_of(own) or not source_of(own):
        return False
    declared_path = urlsplit(declared).path
    own_path = urlsplit(own).path
    return not (declared_path == "/" and own_path != "/")
