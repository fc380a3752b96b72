"""Leaflet, served by the node: fetching the pinned release once, and where it lives.

Leaflet is not kept in git. `python -m web.vendor` (run by ./dev's venv step
and by the Dockerfile) downloads the pinned npm tarball, checks its pinned
sha512 integrity before reading a byte of it, and unpacks only its dist/
files into web/static/vendor/leaflet/ (git-ignored). Rule: the pages never
load Leaflet from anywhere but this node; when the folder is missing the map
page says so and still shows the list.
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path, PurePosixPath

LEAFLET_VERSION = "1.9.4"
LEAFLET_URL = f"https://registry.npmjs.org/leaflet/-/leaflet-{LEAFLET_VERSION}.tgz"
# The npm registry's "integrity" of that tarball (Subresource Integrity form).
LEAFLET_INTEGRITY = (
    "sha512-"
    "nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA=="
)
LEAFLET_DIR = Path(__file__).parent / "static" / "vendor" / "leaflet"
# What the node serves of dist/ (the unminified sources and maps are left out), and LICENSE.
WANTED = ("leaflet.js", "leaflet.css")
WANTED_PREFIXES = ("images/",)
MAX_TARBALL_BYTES = 8 * 1024 * 1024


class VendorError(Exception):
    """The tarball could not be fetched, or is not the one pinned."""


def integrity_ok(data: bytes, integrity: str = LEAFLET_INTEGRITY) -> bool:
    """Whether `data` matches an SRI string "sha512-<base64>"."""
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512":
        return False
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")
    return digest == expected


def unpack(tarball: bytes, target: Path) -> list[str]:
    """Write the wanted dist/ files of a verified tarball into `target` (replaced whole)."""
    written: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix=".leaflet-", dir=target.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
            for member in archive.getmembers():
                parts = PurePosixPath(member.name).parts
                if not member.isfile() or ".." in parts:
                    continue
                if parts == ("package", "LICENSE"):
                    name = "LICENSE"
                elif len(parts) >= 3 and parts[:2] == ("package", "dist"):
                    name = "/".join(parts[2:])
                    if not (name in WANTED or name.startswith(WANTED_PREFIXES)):
                        continue
                else:
                    continue
                source = archive.extractfile(member)
                if source is None:
                    continue
                dest = tmp / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(source.read())
                written.append(name)
        if "leaflet.js" not in written or "leaflet.css" not in written:
            raise VendorError("the tarball has no dist/leaflet.js and dist/leaflet.css")
        for path in (tmp, *tmp.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)  # readable by the node's user
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return sorted(written)


def fetch(url: str = LEAFLET_URL, timeout_s: float = 60.0) -> bytes:
    """The tarball's bytes, verified against the pinned integrity."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # a pinned https URL
            data = response.read(MAX_TARBALL_BYTES + 1)
    except OSError as exc:
        raise VendorError(f"could not download {url}: {exc}") from exc
    if len(data) > MAX_TARBALL_BYTES:
        raise VendorError(f"{url} is larger than expected")
    if not integrity_ok(data):
        raise VendorError(f"{url} does not match the pinned integrity {LEAFLET_INTEGRITY}")
    return data


def installed(target: Path = LEAFLET_DIR) -> bool:
    return (target / "leaflet.js").is_file() and (target / "leaflet.css").is_file()


def ensure(target: Path = LEAFLET_DIR) -> bool:
    """Fetch Leaflet when missing; True when it was fetched now."""
    if installed(target):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    unpack(fetch(), target)
    return True


def main() -> int:
    try:
        fetched = ensure()
    except VendorError as exc:
        print(
            f"Leaflet not installed ({exc}); the map page will show the list only", file=sys.stderr
        )
        return 1
    if fetched:
        print(f"Leaflet {LEAFLET_VERSION} unpacked into {LEAFLET_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
