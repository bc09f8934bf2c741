"""Every shell script: strict mode and shellcheck; the scripts' argument handling."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import venv_tool

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = [*sorted(ROOT.glob("*.sh")), ROOT / ".ci" / "run"]
OURS = (
    "build.sh",
    "build_layer.sh",
    "deploy.sh",
    "update_env_sha_val.sh",
    "teams_notify_on_fail.sh",
)


def test_all_expected_scripts_exist_and_are_executable() -> None:
    names = {p.name for p in SCRIPTS}
    assert set(OURS) <= names
    for script in SCRIPTS:
        assert os.access(script, os.X_OK), f"{script.name} is not executable"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_strict_mode_first(script: Path) -> None:
    lines = script.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    code = [line.strip() for line in lines[1:] if line.strip() and not line.startswith("#")]
    assert code[0] == "set -euo pipefail", f"{script.name}: first command is {code[0]!r}"


def test_shellcheck_passes() -> None:
    done = subprocess.run(
        [venv_tool("shellcheck"), "--severity=style", *map(str, SCRIPTS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_shellcheck_is_not_vacuous(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nset -euo pipefail\nrm -rf $1/*\n")
    done = subprocess.run(
        [venv_tool("shellcheck"), str(bad)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "SC2086" in done.stdout


@pytest.mark.parametrize("script", ["deploy.sh", "update_env_sha_val.sh"])
@pytest.mark.parametrize("args", [[], ["staging"], ["dev", "beta"]])
def test_environment_argument_is_required(script: str, args: list[str]) -> None:
    done = subprocess.run([str(ROOT / script), *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "usage:" in done.stderr and "dev|beta|prod" in done.stderr


def test_build_rejects_unknown_arguments() -> None:
    done = subprocess.run(
        [str(ROOT / "build.sh"), "--fast"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "unknown argument '--fast'" in done.stderr


def test_deploy_without_a_build_says_so(tmp_path: Path) -> None:
    env = {**os.environ, "DEPLOY_PUBLISH_DIR": str(tmp_path / "empty"), "PYTHON": sys.executable}
    done = subprocess.run(
        [str(ROOT / "deploy.sh"), "dev"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "run ./build.sh first" in done.stderr
    assert "Traceback" not in done.stderr
