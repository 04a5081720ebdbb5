"""Credentials out of URLs, for ``config show``: RPC providers put API keys in the URL.

The rule, for any configuration value that is a URL (it has ``scheme://``):

- the user information (``user:password@``) becomes ``REDACTED@``;
- every query parameter keeps its name and loses its value (``?apikey=REDACTED``), and so
  does a fragment;
- a path segment that looks like a key — 16 or more letters, digits, ``-`` or ``_`` with at
  least one digit, or 32 or more of them whatever they are (``/v3/<key>`` of Infura, Alchemy,
  QuickNode, Ankr) — becomes ``REDACTED``.

Scheme, host, port and the other path segments stay, so the operator can still see which
endpoint is configured. The rule errs towards redacting.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "REDACTED"
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_KEY_ALPHABET = re.compile(r"^[A-Za-z0-9_-]+$")


def redact_url(url: str) -> str:
    """``url`` with its credentials replaced by ``REDACTED`` (the module's rule); any other
    text is returned unchanged."""
    if not _URL_RE.match(url):
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    path = "/".join(REDACTED if looks_like_key(s) else s for s in parts.path.split("/"))
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(name, REDACTED) for name, _ in pairs], safe=REDACTED) or REDACTED
    fragment = REDACTED if parts.fragment else ""
    return urlunsplit((parts.scheme, netloc, path, query, fragment))


def looks_like_key(segment: str) -> bool:
    """Whether a URL path segment looks like an API key (see the module docstring)."""
    if not _KEY_ALPHABET.match(segment):
        return False
    return len(segment) >= 32 or (len(segment) >= 16 and any(c.isdigit() for c in segment))
