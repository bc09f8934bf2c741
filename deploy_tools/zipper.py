"""Deterministic zip files: the same input files always give the same bytes."""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# The earliest timestamp a zip can hold; every entry gets it so mtimes never leak in.
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
COMPRESS_LEVEL = 6
# Per-entry bytes besides the data: local header (30) + central directory record (46),
# each followed by the name. End-of-central-directory record: 22 bytes.
_ENTRY_OVERHEAD = 30 + 46
_END_RECORD = 22


@dataclass(frozen=True)
class ZipEntry:
    """One file to put in a zip: where it is on disk and its name inside the zip."""

    source: Path
    arcname: str


def file_mode(path: Path) -> int:
    """0o755 for files with the owner's execute bit, 0o644 otherwise (umask-independent)."""
    return 0o755 if os.stat(path).st_mode & stat.S_IXUSR else 0o644


def entry_size_in_zip(entry: ZipEntry, data: bytes | None = None) -> int:
    """Exact number of bytes ``entry`` adds to a zip written by :func:`write_zip`."""
    if data is None:
        data = entry.source.read_bytes()
    compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, -15)
    compressed = len(compressor.compress(data)) + len(compressor.flush())
    name_len = len(entry.arcname.encode("utf-8"))
    return _ENTRY_OVERHEAD + 2 * name_len + compressed


def write_zip(target: Path, entries: Iterable[ZipEntry]) -> None:
    """Write ``entries`` to ``target``, sorted by name, with fixed timestamps and modes."""
    ordered = sorted(entries, key=lambda e: e.arcname)
    names = [e.arcname for e in ordered]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate names in zip {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for entry in ordered:
            info = zipfile.ZipInfo(entry.arcname, date_time=FIXED_DATE_TIME)
            info.create_system = 3  # unix, so the modes below mean what they say
            info.external_attr = (stat.S_IFREG | file_mode(entry.source)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, entry.source.read_bytes(), compresslevel=COMPRESS_LEVEL)
    tmp.replace(target)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def unzipped_size(path: Path) -> int:
    """Sum of the uncompressed sizes of a zip's entries (what Lambda counts)."""
    with zipfile.ZipFile(path) as zf:
        return sum(info.file_size for info in zf.infolist())


def zip_overhead() -> int:
    """Bytes a zip has besides its entries."""
    return _END_RECORD
