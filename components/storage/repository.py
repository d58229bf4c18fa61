"""The files of a local Triton model repository, as they should appear in a store. Pure.

Keys mirror the folder's relative paths with forward slashes (under an optional prefix), sorted,
so two runs on the same folder give the same list, and each file carries content hashes that let
the object resources skip unchanged files. Editor, VCS and cache litter is ignored.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path, PurePosixPath
from typing import NamedTuple

IGNORED_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
IGNORED_DIRS = frozenset({"__pycache__", ".git", ".ipynb_checkpoints", ".hg", ".svn"})
IGNORED_SUFFIXES = (".swp", ".swo", ".pyc", ".pyo", "~")
IGNORED_PREFIXES = ("._",)  # macOS AppleDouble files

# Fixed table instead of `mimetypes`, which reads the host's /etc/mime.types and would make the
# uploaded content types (and so the plan) differ between machines.
CONTENT_TYPES: dict[str, str] = {
    ".pbtxt": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".py": "text/x-python; charset=utf-8",
    ".json": "application/json",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".xml": "application/xml",
    ".csv": "text/csv; charset=utf-8",
}
BINARY = "application/octet-stream"  # .onnx, .plan, .pt, .bin, .safetensors, .savedmodel ...


class RepositoryFile(NamedTuple):
    key: str  # object key / blob name
    path: Path  # the local file
    content_type: str
    md5: str  # hex
    sha256: str  # hex

    @property
    def md5_base64(self) -> str:
        """The Content-MD5 form (base64 of the digest) that Azure Blob storage compares."""
        return base64.b64encode(bytes.fromhex(self.md5)).decode()


def is_ignored(relative: PurePosixPath) -> bool:
    if any(part in IGNORED_DIRS for part in relative.parts[:-1]):
        return True
    name = relative.name
    return name in IGNORED_NAMES or name.endswith(IGNORED_SUFFIXES) or name.startswith(IGNORED_PREFIXES)


def content_type(name: str) -> str:
    return CONTENT_TYPES.get(PurePosixPath(name).suffix.lower(), BINARY)


def normalise_prefix(prefix: str) -> str:
    clean = prefix.strip().strip("/")
    parts = clean.split("/") if clean else []
    if any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"prefix {prefix!r}: use plain path segments such as 'models' or 'teams/a'")
    return "/".join(parts)


def _hashes(path: Path) -> tuple[str, str]:
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()


def model_repository_files(folder: str | os.PathLike[str], prefix: str = "") -> list[RepositoryFile]:
    """Every publishable file under `folder`, sorted by key.

    Raises FileNotFoundError for a missing folder and ValueError when nothing is left to publish.
    Symbolic links to directories are not followed (they could loop or leave the folder).
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"model repository folder not found: {root}")
    base = normalise_prefix(prefix)
    found: list[RepositoryFile] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_DIRS)
        for filename in filenames:
            path = Path(dirpath) / filename
            relative = PurePosixPath(path.relative_to(root).as_posix())
            if is_ignored(relative) or not path.is_file():
                continue
            key = f"{base}/{relative}" if base else str(relative)
            md5, sha = _hashes(path)
            found.append(RepositoryFile(key, path, content_type(filename), md5, sha))
    if not found:
        raise ValueError(f"{root}: no files to publish (after ignoring editor and cache files)")
    return sorted(found, key=lambda f: f.key)
