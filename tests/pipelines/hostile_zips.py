"""Hostile zip archives built byte by byte, since ``zipfile`` refuses to write them."""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

# The layouts zipfile reads (its structFileHeader, structCentralDir, structEndArchive).
LOCAL = struct.Struct("<4s2B4HL2L2H")
CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
END = struct.Struct("<4s4H2LH")
DEFLATED = 8


def local_header(name: bytes, crc: int, compressed: int, size: int) -> bytes:
    return LOCAL.pack(b"PK\x03\x04", 20, 0, 0, DEFLATED, 0, 0x21, crc, compressed, size, len(name), 0) + name


def central_directory(entries: list[tuple[bytes, int, int, int, int]], body_size: int) -> bytes:
    """Central directory and end record for ``(name, crc, compressed, size, offset)`` entries that
    follow ``body_size`` bytes of local headers and data."""
    directory = b"".join(
        CENTRAL.pack(b"PK\x01\x02", 20, 0, 20, 0, 0, DEFLATED, 0, 0x21, crc, compressed, size, len(name),
                     0, 0, 0, 0, 0, offset) + name
        for name, crc, compressed, size, offset in entries
    )
    return directory + END.pack(b"PK\x05\x06", 0, 0, len(entries), len(entries), len(directory), body_size, 0)


def deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate, as zip members hold it
    return packer.compress(data) + packer.flush()


def overlapping_bomb(path: Path, members: int = 16, kernel: bytes = b"\0" * (1 << 20)) -> Path:
    """David Fifield's "better zip bomb" (quoted overlap): every member's compressed data is a
    stored deflate block quoting the next member's local header, followed by that member's data;
    the last member holds the kernel. Each member decompresses the whole kernel again, and every
    CRC is right, so each member alone is a valid, harmless-looking entry.
    """
    names = [f"bomb/{i:03d}.bin".encode() for i in range(members)]
    data, plain = deflate(kernel), kernel
    headers: list[bytes] = [b""] * members
    sizes: list[tuple[int, int, int]] = [(0, 0, 0)] * members
    for i in reversed(range(members)):
        crc = zlib.crc32(plain)
        sizes[i] = (crc, len(data), len(plain))
        headers[i] = local_header(names[i], *sizes[i])
        if i:  # member i - 1 quotes this header: a non-final stored block (BFINAL=0, BTYPE=00)
            data = b"\x00" + struct.pack("<HH", len(headers[i]), len(headers[i]) ^ 0xFFFF) + headers[i] + data
            plain = headers[i] + plain
    body = headers[0] + data
    offsets = [0]
    for header in headers[:-1]:
        offsets.append(offsets[-1] + len(header) + 5)
    entries = [(names[i], *sizes[i], offsets[i]) for i in range(members)]
    path.write_bytes(body + central_directory(entries, len(body)))
    return path


def shared_header_bomb(path: Path, members: int = 16, kernel: bytes = b"\0" * (1 << 20)) -> Path:
    """The plainer overlap: every central directory entry points at one local header and its data."""
    compressed = deflate(kernel)
    name = b"bomb.bin"
    header = local_header(name, zlib.crc32(kernel), len(compressed), len(kernel))
    body = header + compressed
    entries = [(name, zlib.crc32(kernel), len(compressed), len(kernel), 0) for _ in range(members)]
    path.write_bytes(body + central_directory(entries, len(body)))
    return path


def forged_size_zip(path: Path, payload: bytes, claimed: int) -> Path:
    """One honest member after a member whose compressed size in the central directory is
    ``claimed`` (far more than its real data), to lift any per-member ratio cap computed from it."""
    bomb, ok = deflate(payload), deflate(b"fine")
    first = local_header(b"bomb.bin", zlib.crc32(payload), len(bomb), len(payload))
    second = local_header(b"ok.txt", zlib.crc32(b"fine"), len(ok), 4)
    body = first + bomb + second + ok
    entries = [(b"bomb.bin", zlib.crc32(payload), claimed, len(payload), 0),
               (b"ok.txt", zlib.crc32(b"fine"), len(ok), 4, len(first) + len(bomb))]
    path.write_bytes(body + central_directory(entries, len(body)))
    return path
