"""AWS eventstream frames (`application/vnd.amazon.eventstream`): decoded as they arrive, rebuilt
for replay.

A frame is: total length, headers length, prelude CRC32 (4 bytes each, big-endian), the
headers, the payload, and a CRC32 of everything before it. Bedrock's headers are strings.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

__all__ = ["CONTENT_TYPE", "Frame", "FrameDecoder", "encode_frame"]

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7
Frame = tuple[dict[str, str], bytes]


def _headers(raw: bytes) -> dict[str, str]:
    found: dict[str, str] = {}
    position = 0
    while position < len(raw):
        size = raw[position]
        name = raw[position + 1 : position + 1 + size].decode()
        position += 1 + size
        kind = raw[position]
        position += 1
        if kind != _STRING:  # Bedrock sends strings only; anything else ends the headers
            break
        (length,) = struct.unpack_from(">H", raw, position)
        found[name] = raw[position + 2 : position + 2 + length].decode()
        position += 2 + length
    return found


class FrameDecoder:
    """Splits a byte stream into frames, whatever the chunking."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[Frame]:
        """The frames completed by `chunk`."""
        self._buffer += chunk
        frames: list[Frame] = []
        while len(self._buffer) >= 12:
            total, header_length = struct.unpack_from(">II", self._buffer)
            if len(self._buffer) < total:
                break
            frame, self._buffer = self._buffer[:total], self._buffer[total:]
            headers = _headers(frame[12 : 12 + header_length])
            frames.append((headers, frame[12 + header_length : total - 4]))
        return frames


def encode_frame(headers: dict[str, Any], payload: bytes) -> bytes:
    """One frame with string headers and valid CRCs."""
    raw = b""
    for name, value in headers.items():
        encoded_name, encoded = name.encode(), str(value).encode()
        raw += bytes([len(encoded_name)]) + encoded_name + bytes([_STRING])
        raw += struct.pack(">H", len(encoded)) + encoded
    total = 12 + len(raw) + len(payload) + 4
    prelude = struct.pack(">II", total, len(raw))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + raw + payload
    return body + struct.pack(">I", zlib.crc32(body))
