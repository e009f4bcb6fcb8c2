"""Headless Chromium for the tests that open a page, and the pixels of its screenshot.

Chromium is a Debian package (`apt-get install -y chromium`, which .ci/run
does); without it these tests skip and say so, except under CI (CI=true),
where a missing browser fails them. The screenshot is decoded here, with zlib
and the PNG filters, so no imaging library is needed.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_browser() -> str:
    """The browser's path; skips the test when there is none (fails it under CI)."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    message = f"no headless browser installed (looked for {', '.join(BROWSERS)}); `apt-get install -y chromium`"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def screenshot(page: Path, target: Path, width: int = 1280, height: int = 900) -> Path:
    """Open ``page`` in headless Chromium and save what it shows as a PNG at ``target``."""
    browser = find_browser()
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--user-data-dir={target.parent / 'browser-profile'}", f"--screenshot={target}",
               f"--window-size={width},{height}", page.resolve().as_uri()]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert target.is_file(), f"no screenshot from {browser} (exit {finished.returncode}):\n{finished.stderr[-2000:]}"
    return target


def png_pixels(path: Path) -> list[tuple[int, ...]]:
    """Every pixel of an 8-bit RGB or RGBA PNG (what Chromium writes), row by row."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    position, idat, header = 8, b"", None
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    assert header is not None, "PNG without IHDR"
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unexpected PNG format {header}"
    channels = 4 if colour == 6 else 3
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    pixels: list[tuple[int, ...]] = []
    for row in range(height):
        start = row * (stride + 1)
        line = _unfilter(raw[start], bytearray(raw[start + 1:start + 1 + stride]), previous, channels)
        pixels.extend(tuple(line[i:i + channels]) for i in range(0, stride, channels))
        previous = line
    return pixels


def _unfilter(kind: int, line: bytearray, previous: bytearray, channels: int) -> bytearray:
    for i in range(len(line)):
        left = line[i - channels] if i >= channels else 0
        up = previous[i]
        corner = previous[i - channels] if i >= channels else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        elif kind == 4:
            estimate = left + up - corner
            distances = (abs(estimate - left), abs(estimate - up), abs(estimate - corner))
            line[i] = (line[i] + (left, up, corner)[distances.index(min(distances))]) & 0xFF
    return line
