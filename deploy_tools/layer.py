"""Build the dependency layer: pip install for the Lambda runtime, trim, split into zips."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from deploy_tools.limits import LayerSize, check_limits
from deploy_tools.settings import Settings
from deploy_tools.zipper import (
    ZipEntry,
    entry_size_in_zip,
    sha256_file,
    unzipped_size,
    write_zip,
    zip_overhead,
)

LAYER_JSON = "layer.json"
# Layers are extracted to /opt; Lambda puts /opt/python on sys.path.
ARC_PREFIX = "python/"
# Directory names removed wherever they appear.
DROP_DIRS = {"__pycache__", "tests"}
# Top-level directories removed: console scripts whose shebang points at the build machine.
DROP_TOP_DIRS = {"bin"}
# Headers, C/C++/Cython sources: only needed to compile against a package.
DROP_SUFFIXES = {".pyc", ".pyo", ".h", ".hpp", ".c", ".cc", ".cpp", ".pyx", ".pxd", ".pxi"}
DROP_PREFIXES = ("pyarrow/include/", "pyarrow/src/", "numpy/_core/include/", "numpy/core/include/")
# pyarrow's Arrow Flight RPC (never used here) and its C++ test module.
_PYARROW_DROP = re.compile(
    r"^pyarrow/(_flight\.|flight\.py$|libarrow_flight\.|libarrow_python_flight\."
    r"|_pyarrow_cpp_tests\.)"
)


class LayerBuildError(Exception):
    """The layer could not be built."""


@dataclass(frozen=True)
class LayerPart:
    """One zip of the layer."""

    file: str
    sha256: str
    size: int
    unzipped: int
    files: int


def normalize(name: str) -> str:
    """PEP 503 normalized distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def manylinux_platforms(glibc: str, arch: str = "x86_64") -> list[str]:
    """Every manylinux tag a runtime with this glibc accepts, newest first."""
    major, minor = (int(x) for x in glibc.split("."))
    if major != 2:
        raise LayerBuildError(f"unexpected glibc version {glibc!r}")
    tags = [f"manylinux_2_{m}_{arch}" for m in range(minor, 4, -1)]
    legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    tags += [f"{name}_{arch}" for m, name in legacy.items() if m <= minor]
    return tags


def _runs(python: str, version: str) -> bool:
    probe = "import sys; print('%d.%d' % sys.version_info[:2])"
    try:
        out = subprocess.run(
            [python, "-c", probe], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError:
        return False
    if out.returncode != 0 or out.stdout.strip() != version:
        return False
    pip = subprocess.run(
        [python, "-m", "pip", "--version"], capture_output=True, timeout=60, check=False
    )
    return pip.returncode == 0


def find_runtime_python(version: str, explicit: str | None = None) -> str | None:
    """Path of a Python ``version`` interpreter with pip, or None if there is none."""
    if explicit:
        if not _runs(explicit, version):
            raise LayerBuildError(
                f"DEPLOY_LAYER_PYTHON={explicit} is not a Python {version} with pip"
            )
        return explicit
    candidates = [shutil.which(f"python{version}")]
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"))
    for candidate in candidates:
        if candidate and _runs(candidate, version):
            return candidate
    return None


def pip_install(settings: Settings, target: Path) -> str:
    """Install the requirements for the runtime's platform into ``target``; return the Python."""
    version = settings.python_version
    python = find_runtime_python(version, settings.layer_python)
    if python is None:
        print(
            f"warning: no python{version} found; resolving with {sys.executable} and "
            f"--python-version {version} (environment markers follow this interpreter)",
            file=sys.stderr,
        )
        python = sys.executable
    cmd = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input"]
    cmd += ["-r", str(settings.requirements_file), "--target", str(target)]
    cmd += ["--only-binary=:all:", "--no-compile", "--implementation", "cp"]
    cmd += ["--python-version", version, "--abi", "cp" + version.replace(".", "")]
    for platform in manylinux_platforms(settings.layer_glibc, settings.architecture):
        cmd += ["--platform", platform]
    cmd += list(settings.pip_args)
    print(f"layer: pip install -r {settings.requirements_file.name} with {python}", file=sys.stderr)
    done = subprocess.run(cmd, check=False)
    if done.returncode != 0:
        raise LayerBuildError(f"pip install failed (exit {done.returncode}): {' '.join(cmd)}")
    return python


def _record_paths(dist_info: Path) -> list[Path]:
    record = dist_info / "RECORD"
    if not record.exists():
        return []
    site = dist_info.parent.resolve()
    paths = []
    for line in record.read_text().splitlines():
        name = line.rsplit(",", 2)[0] if line.count(",") >= 2 else line
        if not name:
            continue
        path = (site / name).resolve()
        if path.is_relative_to(site) and path != site:
            paths.append(path)
    return paths


def _drop_reason(rel: str) -> str | None:
    parts = rel.split("/")
    if parts[0] in DROP_TOP_DIRS:
        return "scripts"
    if DROP_DIRS.intersection(parts[:-1]):
        return "tests and caches"
    if rel.startswith(DROP_PREFIXES) or Path(rel).suffix in DROP_SUFFIXES:
        return "headers and sources"
    if _PYARROW_DROP.match(rel):
        return "pyarrow flight"
    return None


def trim(site: Path, runtime_provided: Iterable[str]) -> dict[str, int]:
    """Remove what the runtime provides and what never runs; return bytes removed per reason."""
    removed: dict[str, int] = {}
    provided = {normalize(name) for name in runtime_provided}
    for dist_info in sorted(site.glob("*.dist-info")):
        dist_name = dist_info.name.removesuffix(".dist-info").rsplit("-", 1)[0]
        if normalize(dist_name) not in provided:
            continue
        for path in [*_record_paths(dist_info), *dist_info.rglob("*")]:
            if path.is_file():
                removed["runtime provided"] = (
                    removed.get("runtime provided", 0) + path.stat().st_size
                )
                path.unlink()
        shutil.rmtree(dist_info, ignore_errors=True)
    for path in sorted(site.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        reason = _drop_reason(path.relative_to(site).as_posix())
        if reason:
            removed[reason] = removed.get(reason, 0) + path.stat().st_size
            path.unlink()
    # Empty directories left behind (deepest first).
    for path in sorted(site.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return removed


def plan_parts(site: Path, max_zip_bytes: int) -> list[list[ZipEntry]]:
    """Split the files under ``site`` into zips each smaller than ``max_zip_bytes``.

    Files are taken in path order and a new zip starts when the next file would not fit,
    so one package may be spread over several zips: layers are all extracted into /opt.
    """
    parts: list[list[ZipEntry]] = [[]]
    used = zip_overhead()
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        entry = ZipEntry(path, ARC_PREFIX + path.relative_to(site).as_posix())
        size = entry_size_in_zip(entry)
        if size + zip_overhead() >= max_zip_bytes:
            raise LayerBuildError(
                f"{entry.arcname} alone takes {size:,} bytes zipped: over the {max_zip_bytes:,} "
                "bytes allowed per layer zip"
            )
        if used + size >= max_zip_bytes and parts[-1]:
            parts.append([])
            used = zip_overhead()
        parts[-1].append(entry)
        used += size
    return [part for part in parts if part]


def read_layer_json(settings: Settings) -> dict | None:
    """The description of the layer zips in publish/, if they are there and intact."""
    info_file = settings.layer_dir / LAYER_JSON
    if not info_file.exists():
        return None
    info = json.loads(info_file.read_text())
    for part in info.get("parts", []):
        zip_path = settings.layer_dir / part["file"]
        if not zip_path.exists() or sha256_file(zip_path) != part["sha256"]:
            return None
    return info


def matching_layer(settings: Settings, requirements_sha256: str) -> dict | None:
    """layer.json when publish/'s zips were built from these requirements for this runtime."""
    info = read_layer_json(settings)
    if (
        info
        and info.get("requirements_sha256") == requirements_sha256
        and info.get("runtime") == settings.runtime
        and info.get("parts")
    ):
        return info
    return None


def build_layer(settings: Settings, function_unzipped: int = 0) -> dict:
    """Build the layer zips into publish/layer/ and describe them in layer.json."""
    requirements = settings.requirements_file
    if not requirements.exists():
        raise LayerBuildError(f"requirements file {requirements} not found")
    requirements_sha256 = sha256_file(requirements)
    staging = settings.build_dir / "layer" / "python"
    shutil.rmtree(staging.parent, ignore_errors=True)
    staging.mkdir(parents=True)
    python = pip_install(settings, staging)
    removed = trim(staging, settings.runtime_provided)
    plans = plan_parts(staging, settings.layer_max_zip_bytes)
    if not plans:
        raise LayerBuildError(f"{requirements} installed nothing: no layer to build")
    out_dir = settings.layer_dir
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    parts = []
    for number, entries in enumerate(plans, start=1):
        zip_path = out_dir / f"layer-{number}.zip"
        write_zip(zip_path, entries)
        size = zip_path.stat().st_size
        if size >= settings.layer_max_zip_bytes:  # planning is exact; this guards it
            raise LayerBuildError(f"{zip_path.name} is {size:,} bytes, over the per-zip limit")
        parts.append(
            LayerPart(
                zip_path.name, sha256_file(zip_path), size, unzipped_size(zip_path), len(entries)
            )
        )
    check_limits(function_unzipped, [LayerSize(p.file, p.unzipped) for p in parts])
    info = {
        "requirements_file": requirements.name,
        "requirements_sha256": requirements_sha256,
        "runtime": settings.runtime,
        "python": _python_version(python),
        "removed_bytes": dict(sorted(removed.items())),
        "unzipped_total": sum(p.unzipped for p in parts),
        "parts": [p.__dict__ for p in parts],
    }
    (out_dir / LAYER_JSON).write_text(json.dumps(info, indent=2) + "\n")
    shutil.rmtree(staging.parent, ignore_errors=True)
    for p in parts:
        print(
            f"layer: {p.file} {p.size:,} bytes zipped, {p.unzipped:,} unzipped, {p.files} files",
            file=sys.stderr,
        )
    return info


def _python_version(python: str) -> str:
    out = subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()
