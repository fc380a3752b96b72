"""Leaflet, shipped inside the package: the pinned copy under web/static/vendor/leaflet/ and the
tool that checks it or refreshes it from npm.

Leaflet 1.9.4 (BSD-2-Clause, its LICENSE beside it) is committed under
web/static/vendor/leaflet/ and installed by pip with the rest of web/static
(pyproject.toml's package-data), so any install serves the map's assets: no
step after `pip install`, no network at build or start. Why vendored rather
than xstatic-leaflet from PyPI: that package carries Leaflet 1.9.3, which lacks
1.9.4's fixes for tile gaps in Chromium and vector drift on pinch zoom (the
map's phones), and the copy is 170 kB.

Rules: the vendored files are exactly the pinned tarball's (VENDORED holds
their sha256; tests/web/test_vendor.py checks them); the pages never load
Leaflet from anywhere but this node; when a file is missing anyway, the node
warns at start (web.assets.missing) and the map page draws the area map alone.

    python -m web.vendor                  check the vendored copy (exit 1 if changed or missing)
    npm pack leaflet@1.9.4                then, to refresh it from the tarball npm fetched:
    python -m web.vendor --refresh leaflet-1.9.4.tgz
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

LEAFLET_VERSION = "1.9.4"
# The npm registry's "integrity" of leaflet-1.9.4.tgz (Subresource Integrity form).
LEAFLET_INTEGRITY = (
    "sha512-"
    "nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA=="
)
LEAFLET_DIR = Path(__file__).parent / "static" / "vendor" / "leaflet"
# What the node serves of dist/ (the unminified sources and maps are left out), and LICENSE.
WANTED = ("leaflet.js", "leaflet.css")
WANTED_PREFIXES = ("images/",)
# sha256 of every vendored file, as unpacked from the pinned tarball.
VENDORED: dict[str, str] = {
    "LICENSE": "53e8dc25862014e4324741ca18fbe3611e11d42ef69f59f86ea8c5389647d4cb",
    "images/layers-2x.png": "066daca850d8ffbef007af00b06eac0015728dee279c51f3cb6c716df7c42edf",
    "images/layers.png": "1dbbe9d028e292f36fcba8f8b3a28d5e8932754fc2215b9ac69e4cdecf5107c6",
    "images/marker-icon-2x.png": "00179c4c1ee830d3a108412ae0d294f55776cfeb085c60129a39aa6fc4ae2528",
    "images/marker-icon.png": "574c3a5cca85f4114085b6841596d62f00d7c892c7b03f28cbfa301deb1dc437",
    "images/marker-shadow.png": "264f5c640339f042dd729062cfc04c17f8ea0f29882b538e3848ed8f10edb4da",
    "leaflet.css": "a7837102824184820dfa198d1ebcd109ff6d0ff9a2672a074b9a1b4d147d04c6",
    "leaflet.js": "db49d009c841f5ca34a888c96511ae936fd9f5533e90d8b2c4d57596f4e5641a",
}


class VendorError(Exception):
    """The tarball is not the one pinned, or holds no Leaflet."""


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
    target.parent.mkdir(parents=True, exist_ok=True)
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


def installed(target: Path = LEAFLET_DIR) -> bool:
    return (target / "leaflet.js").is_file() and (target / "leaflet.css").is_file()


def changed(target: Path = LEAFLET_DIR) -> list[str]:
    """The vendored files that are missing or differ from the pinned copy (empty: all good)."""
    found = []
    for name, digest in sorted(VENDORED.items()):
        path = target / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            found.append(name)
    return found


def refresh(tarball_path: Path, target: Path = LEAFLET_DIR) -> list[str]:
    """Unpack the pinned tarball (as `npm pack leaflet@VERSION` saved it) into `target`."""
    data = tarball_path.read_bytes()
    if not integrity_ok(data):
        raise VendorError(f"{tarball_path} does not match the pinned integrity {LEAFLET_INTEGRITY}")
    return unpack(data, target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m web.vendor", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--refresh", type=Path, metavar="TGZ", help="the leaflet npm tarball")
    args = parser.parse_args(argv)
    if args.refresh is not None:
        try:
            written = refresh(args.refresh)
        except (OSError, VendorError) as exc:
            print(f"Leaflet not refreshed: {exc}", file=sys.stderr)
            return 1
        print(f"Leaflet {LEAFLET_VERSION} unpacked into {LEAFLET_DIR}: {', '.join(written)}")
    bad = changed()
    if bad:
        print(f"Leaflet {LEAFLET_VERSION} in {LEAFLET_DIR}: missing or changed: {', '.join(bad)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
