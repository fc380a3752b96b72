"""The node's static files (/static/...): read once at start-up, served from memory.

Only the files found under web/static/ when the app is made are served (no
path from a request ever reaches the file system). Each has an ETag and a
gzip copy for browsers that accept it: the map's Leaflet is ~145 kB plain and
~40 kB gzipped, which matters on a cheap phone's data plan. Every file a page
references (EXPECTED) ships in the package, Leaflet included (web.vendor); if
one is missing all the same (a broken install), the node says so in one line
at start, its path is a 404, and the map page draws the area map without it.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

STATIC_DIR = Path(__file__).parent / "static"
PREFIX = "/static/"
TYPES = {
    ".css": "text/css",
    ".js": "text/javascript",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
COMPRESSIBLE = frozenset({".css", ".js", ".svg"})
CACHE_CONTROL = "public, max-age=3600"
# Every /static/ path a page references (tests/web/test_assets.py keeps this list complete).
EXPECTED = (
    "/static/style.css",
    "/static/form.js",
    "/static/map.js",
    "/static/areamap.css",
    "/static/moderation.css",
    "/static/moderation.js",
    "/static/vendor/leaflet/leaflet.js",
    "/static/vendor/leaflet/leaflet.css",
    "/static/vendor/leaflet/LICENSE",
)

log = logging.getLogger("vecinos.web")


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    content_type: str
    etag: str


ASSETS: web.AppKey[dict[str, Asset]] = web.AppKey("vecinos_assets", dict)


def load(directory: Path) -> dict[str, Asset]:
    """Every servable file under `directory`, keyed by its URL path."""
    found: dict[str, Asset] = {}
    for path in sorted(directory.rglob("*")):
        suffix = path.suffix.lower()
        if not path.is_file() or (suffix not in TYPES and path.name != "LICENSE"):
            continue
        body = path.read_bytes()
        ctype = TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "text/plain"
        gz = gzip.compress(body, mtime=0) if suffix in COMPRESSIBLE else None
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        found[PREFIX + path.relative_to(directory).as_posix()] = Asset(body, gz, ctype, etag)
    return found


def missing(found: dict[str, Asset]) -> list[str]:
    """The EXPECTED paths that this install lacks."""
    return [path for path in EXPECTED if path not in found]


def available(app: web.Application, path: str) -> bool:
    """Whether `path` (e.g. /static/vendor/leaflet/leaflet.js) is served by this app."""
    return path in app[ASSETS]


def _accepts_gzip(request: web.Request) -> bool:
    accept = request.headers.get("Accept-Encoding", "")
    return any(part.split(";")[0].strip().lower() == "gzip" for part in accept.split(","))


async def serve(request: web.Request) -> web.StreamResponse:
    asset = request.app[ASSETS].get(request.path)
    if asset is None:
        raise web.HTTPNotFound()
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": asset.etag, "Vary": "Accept-Encoding"}
    if asset.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and _accepts_gzip(request):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    response = web.Response(body=body, headers=headers)
    response.content_type = asset.content_type
    if asset.content_type.startswith("text/"):
        response.charset = "utf-8"
    return response


def add_routes(app: web.Application, directory: Path | None = None) -> None:
    """Load the static files (of STATIC_DIR unless told) and register /static/{path}."""
    app[ASSETS] = load(directory or STATIC_DIR)
    absent = missing(app[ASSETS])
    if absent:
        log.warning(
            "static files missing from this install (reinstall the package): %s; "
            "pages that use them work without them",
            ", ".join(absent),
        )
    app.router.add_get(PREFIX + "{path:.+}", serve)
