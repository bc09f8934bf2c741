"""Per-environment settings from .hal9000.yml, each overridable by an environment variable."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ("dev", "beta", "prod")
DEFAULT_FUNCTION_NAME = "{env}-208385-catalog-glue-partition-mgmt-process"


class SettingsError(Exception):
    """The settings file or an override is unusable."""


@dataclass(frozen=True)
class Settings:
    """Everything the build and deploy steps need to know about one environment."""

    env: str
    root: Path
    image: str
    region: str
    runtime: str
    architecture: str
    function_name: str
    layer_name_prefix: str
    alias: str
    requirements_file: Path
    publish_dir: Path
    build_dir: Path
    layer_max_zip_bytes: int
    layer_glibc: str
    runtime_provided: tuple[str, ...]
    layer_python: str | None = None
    pip_args: tuple[str, ...] = field(default_factory=tuple)
    inspect_foreign_layers: bool = True

    @property
    def python_version(self) -> str:
        """'3.12' for runtime 'python3.12'."""
        if not self.runtime.startswith("python"):
            raise SettingsError(f"runtime {self.runtime!r} is not a Python runtime")
        return self.runtime.removeprefix("python")

    @property
    def function_zip(self) -> Path:
        """Where build.sh writes the function's code."""
        return self.publish_dir / "function.zip"

    @property
    def manifest_file(self) -> Path:
        """Where build.sh writes what it built."""
        return self.publish_dir / "manifest.json"

    @property
    def layer_dir(self) -> Path:
        """Where the layer build writes its zips and layer.json."""
        return self.publish_dir / "layer"


def _path(value: str, root: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else root / path


def _int(name: str, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be an integer, got {value!r}") from None


def load(
    env: str = "dev", root: Path | None = None, environ: dict[str, str] | None = None
) -> Settings:
    """Read ``.hal9000.yml`` under ``root`` for ``env`` and apply ``DEPLOY_*`` overrides."""
    root = root or ROOT
    environ = dict(os.environ) if environ is None else environ
    if env not in ENVIRONMENTS:
        raise SettingsError(f"unknown environment {env!r}: use one of {', '.join(ENVIRONMENTS)}")
    config_file = _path(environ.get("DEPLOY_SETTINGS_FILE", ".hal9000.yml"), root)
    try:
        config = yaml.safe_load(config_file.read_text()) or {}
    except FileNotFoundError:
        raise SettingsError(f"settings file {config_file} not found") from None
    merged: dict[str, Any] = dict(config.get("defaults") or {})
    envs = config.get("environments") or {}
    if env not in envs:
        raise SettingsError(f"{config_file} has no 'environments.{env}' section")
    merged.update(envs.get(env) or {})
    layer = config.get("layer") or {}

    def pick(key: str, var: str, default: Any = None) -> Any:
        value = environ.get(var) or merged.get(key, default)
        if value is None:
            raise SettingsError(f"no value for {key!r} in {config_file} (or ${var})")
        return str(value).replace("{env}", env) if isinstance(value, str) else value

    region = environ.get("DEPLOY_REGION") or merged.get("region")
    region = region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise SettingsError("no region: set 'region' in the settings file or $DEPLOY_REGION")
    provided = layer.get("runtime_provided") or []
    return Settings(
        env=env,
        root=root,
        image=environ.get("DEPLOY_IMAGE") or str(config.get("image", "")),
        region=str(region),
        runtime=pick("runtime", "DEPLOY_RUNTIME", "python3.12"),
        architecture=pick("architecture", "DEPLOY_ARCHITECTURE", "x86_64"),
        function_name=pick("function_name", "DEPLOY_FUNCTION_NAME", DEFAULT_FUNCTION_NAME),
        layer_name_prefix=pick("layer_name_prefix", "DEPLOY_LAYER_PREFIX"),
        alias=pick("alias", "DEPLOY_ALIAS", env),
        requirements_file=_path(pick("requirements_file", "DEPLOY_REQUIREMENTS_FILE"), root),
        publish_dir=_path(environ.get("DEPLOY_PUBLISH_DIR", "publish"), root),
        build_dir=_path(environ.get("DEPLOY_BUILD_DIR", "build"), root),
        layer_max_zip_bytes=_int(
            "layer max_zip_bytes",
            environ.get("DEPLOY_LAYER_MAX_ZIP_BYTES") or layer.get("max_zip_bytes", 35_000_000),
        ),
        layer_glibc=str(environ.get("DEPLOY_LAYER_GLIBC") or layer.get("glibc", "2.34")),
        runtime_provided=tuple(str(p) for p in provided),
        layer_python=environ.get("DEPLOY_LAYER_PYTHON") or None,
        pip_args=tuple(shlex.split(environ.get("DEPLOY_PIP_ARGS", ""))),
        inspect_foreign_layers=environ.get("DEPLOY_INSPECT_FOREIGN_LAYERS", "1") not in ("0", ""),
    )
