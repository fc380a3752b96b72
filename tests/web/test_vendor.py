"""web.vendor: the pinned Leaflet tarball is checked before use and only its dist/ is unpacked."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from web import vendor


def tarball(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_integrity_is_the_npm_sha512() -> None:
    data = b"leaflet bytes"
    sri = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    assert vendor.integrity_ok(data, sri)
    assert not vendor.integrity_ok(data + b"!", sri)
    assert not vendor.integrity_ok(data, "sha1-" + sri[7:])
    assert vendor.LEAFLET_INTEGRITY.startswith("sha512-")


def test_unpack_takes_only_the_wanted_dist_files(tmp_path: Path) -> None:
    data = tarball(
        {
            "package/dist/leaflet.js": b"window.L = {};",
            "package/dist/leaflet.css": b".leaflet-container {}",
            "package/dist/images/layers.png": b"png",
            "package/dist/leaflet-src.js": b"unminified",
            "package/LICENSE": b"BSD-2-Clause",
            "package/dist/../../evil.js": b"no",
            "package/src/Leaflet.js": b"source",
        }
    )
    target = tmp_path / "leaflet"
    written = vendor.unpack(data, target)
    assert written == ["LICENSE", "images/layers.png", "leaflet.css", "leaflet.js"]
    assert vendor.installed(target)
    assert not (tmp_path / "evil.js").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leaflet"]  # no temporary left


def test_unpack_refuses_a_tarball_without_leaflet(tmp_path: Path) -> None:
    with pytest.raises(vendor.VendorError):
        vendor.unpack(tarball({"package/README.md": b"hi"}), tmp_path / "leaflet")
    assert not (tmp_path / "leaflet").exists()


def test_the_vendored_copy_is_exactly_the_pinned_one() -> None:
    """Leaflet ships in the package: every file present and byte-identical to the tarball's."""
    assert vendor.changed() == []
    shipped = {
        p.relative_to(vendor.LEAFLET_DIR).as_posix()
        for p in vendor.LEAFLET_DIR.rglob("*")
        if p.is_file()
    }
    assert shipped == set(vendor.VENDORED)


def test_a_changed_or_missing_file_is_reported(tmp_path: Path) -> None:
    target = tmp_path / "leaflet"
    target.mkdir()
    (target / "leaflet.js").write_bytes(b"tampered")
    assert "leaflet.js" in vendor.changed(target)
    assert "leaflet.css" in vendor.changed(target)


def test_refresh_refuses_a_tarball_that_is_not_the_pinned_one(tmp_path: Path) -> None:
    fake = tmp_path / "leaflet-1.9.4.tgz"
    fake.write_bytes(tarball({"package/dist/leaflet.js": b"x", "package/dist/leaflet.css": b"y"}))
    with pytest.raises(vendor.VendorError):
        vendor.refresh(fake, tmp_path / "leaflet")
    assert not (tmp_path / "leaflet").exists()
