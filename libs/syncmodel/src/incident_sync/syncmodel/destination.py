"""Where a side's credentials go: the origin (scheme, host, port) of its `base_url`.

Secrets are bound to it: the control store seals them for it, the control API refuses to
move them to another one unless they are given again, and the connectors' HTTP auth refuses
to attach them to a request for any other. A path change is no move (the same server).
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

# An absolute http(s) URL whose host is ASCII (an international name in its `xn--` form, no
# IPv6 literal, no user info) and whose path has no spaces, controls or backslashes: what the
# parsers of urllib, httpx and the tools' proxies agree on, so every one of them sees the same
# host. Spelt out rather than `\s`: regex engines disagree on what whitespace is, and the same
# pattern is checked by pydantic (Rust), by Python and by the API's clients (ECMA-262).
BASE_URL_PATTERN: Final = r"^https?://[A-Za-z0-9._:-]+(/[^\x00-\x20\x7f-\x9f?#\\]*)?$"
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def origin(url: str) -> str:
    """`scheme://host[:port]`, lower-cased, the scheme's default port left out."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # e.g. brackets that hold no IPv6 address: compared as written
        scheme, _, rest = url.strip().partition("://")
        return f"{scheme.lower()}://{rest.split('/', 1)[0].lower()}"
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"  # IPv6
    try:
        port = parts.port
    except ValueError:  # not a port number: compared as written
        return f"{scheme}://{parts.netloc.lower()}"
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"
