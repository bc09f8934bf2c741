"""Package the function's code and describe the build in publish/manifest.json."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

from deploy_tools.layer import matching_layer
from deploy_tools.settings import Settings
from deploy_tools.zipper import ZipEntry, sha256_file, unzipped_size, write_zip

# What the function is made of; nothing else from the repository ships.
FUNCTION_SOURCES = ("main.py", "modules")


class BuildError(Exception):
    """The function could not be packaged."""


def function_entries(root: Path) -> list[ZipEntry]:
    """main.py and every file under modules/, without caches or hidden files."""
    main = root / "main.py"
    if not main.is_file():
        raise BuildError(f"{main} not found: nothing to package")
    entries = [ZipEntry(main, "main.py")]
    modules = root / "modules"
    if modules.is_dir():
        for path in sorted(modules.rglob("*")):
            rel = path.relative_to(root)
            if not path.is_file() or any(
                p.startswith(".") or p == "__pycache__" for p in rel.parts
            ):
                continue
            if path.suffix in (".pyc", ".pyo"):
                continue
            entries.append(ZipEntry(path, rel.as_posix()))
    return entries


def git_sha(root: Path) -> str:
    """The commit being built: $GIT_SHA, $CIRCLE_SHA1 or git's HEAD, else 'unknown'."""
    for var in ("GIT_SHA", "CIRCLE_SHA1"):
        if os.environ.get(var):
            return os.environ[var]
    out = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def sources_dirty(root: Path) -> bool | None:
    """True when main.py or modules/ differ from the commit (None outside git)."""
    out = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--", *FUNCTION_SOURCES],
        capture_output=True,
        text=True,
        check=False,
    )
    return bool(out.stdout.strip()) if out.returncode == 0 else None


def build_function(settings: Settings) -> dict:
    """Write publish/function.zip and publish/manifest.json; return the manifest."""
    zip_path = settings.function_zip
    write_zip(zip_path, function_entries(settings.root))
    return write_manifest(settings)


def write_manifest(settings: Settings) -> dict:
    """Describe function.zip and, when built from the same requirements, the layer zips."""
    zip_path = settings.function_zip
    if not zip_path.exists():
        raise BuildError(f"{zip_path} not found: run ./build.sh first")
    requirements = settings.requirements_file
    if not requirements.exists():
        raise BuildError(f"requirements file {requirements} not found")
    requirements_sha256 = sha256_file(requirements)
    layer = matching_layer(settings, requirements_sha256)
    manifest = {
        "git_sha": git_sha(settings.root),
        "git_dirty": sources_dirty(settings.root),
        "requirements_file": requirements.name,
        "requirements_sha256": requirements_sha256,
        "runtime": settings.runtime,
        "build_python": platform.python_version(),
        "layer_python": layer["python"] if layer else None,
        "function": {
            "file": zip_path.name,
            "sha256": sha256_file(zip_path),
            "size": zip_path.stat().st_size,
            "unzipped": unzipped_size(zip_path),
        },
        "layers": [
            {**part, "file": f"layer/{part['file']}"} for part in (layer["parts"] if layer else [])
        ],
    }
    settings.manifest_file.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def read_manifest(settings: Settings) -> dict:
    """publish/manifest.json, checked against the function.zip next to it."""
    if not settings.manifest_file.exists() or not settings.function_zip.exists():
        raise BuildError(
            f"{settings.manifest_file} or {settings.function_zip} missing: run ./build.sh first"
        )
    manifest = json.loads(settings.manifest_file.read_text())
    if sha256_file(settings.function_zip) != manifest["function"]["sha256"]:
        raise BuildError(f"{settings.function_zip} changed since the manifest was written: rebuild")
    return manifest
