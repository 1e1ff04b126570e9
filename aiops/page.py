"""The reference page (README "The reference page"): the two files of `examples/` the service
serves at `GET /` and `GET /aiops-client.js`, with their content types and the headers that keep
the user's key on this page and this service (a Content-Security-Policy that lets the page
connect only to the service that served it, and no framing, referrer or form submission).
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
# path → (file in examples/, content type). Nothing else of examples/ is served.
FILES: dict[str, tuple[str, str]] = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/aiops-client.js": ("aiops-client.js", "text/javascript; charset=utf-8"),
}
PATHS = frozenset(FILES)
_INLINE = re.compile(r"<(script|style)\b[^>]*>(.*?)</\1>", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class Asset:
    body: bytes
    headers: dict[str, str]


def content_security_policy(html: str) -> str:
    """A policy that runs exactly the page's own inline script and style (by their hashes) and
    the client module from this origin, and lets the page connect only to this origin."""
    hashes: dict[str, list[str]] = {"script": [], "style": []}
    for tag, text in _INLINE.findall(html):
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        hashes[tag.lower()].append(f"'sha256-{digest}'")
    return "; ".join(
        [
            "default-src 'none'",
            " ".join(["script-src 'self'", *hashes["script"]]),
            " ".join(["style-src", *hashes["style"]]) if hashes["style"] else "style-src 'none'",
            "connect-src 'self'",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


@cache
def asset(path: str) -> Asset | None:
    """The file served at `path` with its headers; None when the deployment did not ship it."""
    name, content_type = FILES[path]
    try:
        body = (EXAMPLES_DIR / name).read_bytes()
    except OSError:
        return None
    headers = {
        "Content-Type": content_type,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    if name.endswith(".html"):
        headers["Content-Security-Policy"] = content_security_policy(body.decode())
        headers["X-Frame-Options"] = "DENY"
    return Asset(body, headers)
