"""The pixels of a Playwright screenshot: a PNG decoder of the kind Chromium writes (8 bits per
channel, RGB or RGBA, not interlaced), so tests can look at colours without an image library."""

from __future__ import annotations

import struct
import zlib

Pixel = tuple[int, ...]


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


class Image:
    def __init__(self, png: bytes) -> None:
        assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
        data, pos = b"", 8
        while pos < len(png):
            length, kind = struct.unpack(">I4s", png[pos:pos + 8])
            body = png[pos + 8:pos + 8 + length]
            if kind == b"IHDR":
                self.width, self.height, depth, colour, _, _, interlace = struct.unpack(
                    ">IIBBBBB", body)
                assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour)
                self.channels = 3 if colour == 2 else 4
            elif kind == b"IDAT":
                data += body
            pos += 12 + length
        raw = zlib.decompress(data)
        stride = self.width * self.channels
        rows: list[bytearray] = []
        previous = bytearray(stride)
        for y in range(self.height):
            start = y * (stride + 1)
            kind, row = raw[start], bytearray(raw[start + 1:start + 1 + stride])
            n = self.channels
            for i in range(stride):
                left = row[i - n] if i >= n else 0
                up, corner = previous[i], previous[i - n] if i >= n else 0
                row[i] = (row[i] + (0, left, up, (left + up) // 2,
                                    _paeth(left, up, corner))[kind]) & 0xFF
            rows.append(row)
            previous = row
        self.rows = rows

    def pixel(self, x: int, y: int) -> Pixel:
        """(r, g, b, a) at x, y; a is 255 in a screenshot without transparency."""
        n = self.channels
        values = tuple(self.rows[y][x * n:x * n + n])
        return values if n == 4 else (*values, 255)

    def colours(self) -> set[Pixel]:
        """Every colour in the image."""
        return {self.pixel(x, y) for y in range(self.height) for x in range(self.width)}
