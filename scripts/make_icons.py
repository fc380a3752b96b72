"""Writes web/static/icons/icon-{192,512}.png: the web app's icon (run once; committed).

A plain drawing (a white bell-like disc on the site's dark red), encoded with
zlib by hand so that no imaging library is needed.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

RED = (0x7A, 0x1F, 0x1F)
WHITE = (0xFF, 0xFF, 0xFF)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def icon(size: int) -> bytes:
    rows = []
    c, r_outer, r_inner = size / 2, size * 0.30, size * 0.12
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            d2 = (x + 0.5 - c) ** 2 + (y + 0.5 - c) ** 2
            ring = r_inner**2 < d2 <= r_outer**2
            row += bytes(WHITE if ring else RED)
        rows.append(bytes(row))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    data = zlib.compress(b"".join(rows), 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


if __name__ == "__main__":
    out = Path(__file__).resolve().parent.parent / "web" / "static" / "icons"
    out.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        (out / f"icon-{size}.png").write_bytes(icon(size))
