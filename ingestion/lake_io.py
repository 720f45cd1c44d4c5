"""Durable, atomic file writes to a lake URI (a local directory or s3://), via pyarrow's filesystems.

Atomic: a reader never sees half a file; the file appears complete under its final name or not at
all (temp file + rename locally, a single PUT on S3). Same name, same content => idempotent re-runs.
"""

from __future__ import annotations

import os
import uuid

from pyarrow import fs as pafs


def _filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    return pafs.FileSystem.from_uri(uri)


def write_bytes(uri: str, data: bytes) -> str:
    filesystem, path = _filesystem(uri)
    parent = path.rsplit("/", 1)[0]
    filesystem.create_dir(parent, recursive=True)
    if isinstance(filesystem, pafs.LocalFileSystem):
        tmp = f"{parent}/.{uuid.uuid4().hex}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())  # durable before the checkpoint moves past it
        os.replace(tmp, path)
    else:
        with filesystem.open_output_stream(path) as stream:
            stream.write(data)
    return uri


def read_bytes(uri: str) -> bytes:
    filesystem, path = _filesystem(uri)
    with filesystem.open_input_stream(path) as stream:
        return stream.read()


def list_files(uri: str, suffix: str = "") -> list[str]:
    """Every file under ``uri`` (recursive), as full URIs/paths, sorted; [] when it does not exist."""
    filesystem, path = _filesystem(uri)
    try:
        infos = filesystem.get_file_info(pafs.FileSelector(path, recursive=True, allow_not_found=True))
    except FileNotFoundError:
        return []
    prefix = uri[: len(uri) - len(path)] if uri.endswith(path) else ""
    return sorted(
        prefix + info.path
        for info in infos
        if info.type == pafs.FileType.File and info.path.endswith(suffix) and not info.base_name.startswith(".")
    )


def delete(uri: str) -> None:
    """Remove one file (missing is fine: a re-run of whatever deleted it)."""
    filesystem, path = _filesystem(uri)
    try:
        filesystem.delete_file(path)
    except FileNotFoundError:
        pass
