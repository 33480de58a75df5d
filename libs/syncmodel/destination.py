"""Where a side's credentials go: the origin (scheme, host, port) of its `base_url`.

Secrets are bound to it: the control store seals them for it, the control API refuses to
move them to another one unless they are given again, and the connectors' HTTP auth refuses
to attach them to a request for any other. A path change is no move (the same server).
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

# An absolute http(s) URL with no user info, spaces or backslashes: what the parsers of
# urllib, httpx and the tools' proxies agree on, so every one of them sees the same host.
BASE_URL_PATTERN: Final = r"^https?://[^\s/?#@\\]+(/[^\s?#\\]*)?$"
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def origin(url: str) -> str:
    """`scheme://host[:port]`, lower-cased, the scheme's default port left out."""
    parts = urlsplit(url.strip())
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
