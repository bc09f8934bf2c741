"""The CircleCI pipeline and .hal9000.yml: schema, and what the schema does not catch."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from deploy_tools import settings as settings_mod
from tests.conftest import venv_tool

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / ".circleci" / "config.yml"
NOTIFY = "teams_notify_on_fail.sh"
DEPLOYS = ("deploy-dev", "deploy-beta", "deploy-prod")


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def workflow_jobs(config: dict) -> dict[str, dict]:
    """Every job entry of every workflow, by the name it has in the workflow."""
    entries: dict[str, dict] = {}
    for workflow in config["workflows"].values():
        if not isinstance(workflow, dict):
            continue
        for item in workflow["jobs"]:
            job, params = (item, {}) if isinstance(item, str) else next(iter(item.items()))
            params = params or {}
            entries[params.get("name", job)] = {"job": job, **params}
    return entries


def notifies_on_fail(steps: list, commands: dict) -> bool:
    """Whether the steps (reusable commands expanded) run the notifier with when: on_fail."""
    for step in steps:
        name, body = (step, {}) if isinstance(step, str) else next(iter(step.items()))
        if name == "run" and isinstance(body, dict):
            if body.get("when") == "on_fail" and NOTIFY in body.get("command", ""):
                return True
        elif name in commands and notifies_on_fail(commands[name].get("steps", []), commands):
            return True
    return False


def test_config_passes_circleci_schema() -> None:
    done = subprocess.run(
        [venv_tool("check-jsonschema"), "--builtin-schema", "vendor.circle-ci", str(CONFIG)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_schema_check_catches_a_broken_config(tmp_path: Path, config: dict) -> None:
    """The schema check above is not vacuous: a job without steps or executor fails it."""
    broken = dict(config, jobs={**config["jobs"], "test": {"steps": "not a list"}})
    target = tmp_path / "config.yml"
    target.write_text(yaml.safe_dump(broken))
    done = subprocess.run(
        [venv_tool("check-jsonschema"), "--builtin-schema", "vendor.circle-ci", str(target)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0


def test_version_and_pipeline_order(config: dict) -> None:
    assert config["version"] == 2.1
    jobs = workflow_jobs(config)
    assert list(jobs) == ["test", "build", *DEPLOYS[:2], "hold-prod", DEPLOYS[2]]
    assert jobs["build"]["requires"] == ["test"]
    assert jobs["deploy-dev"]["requires"] == ["build"]
    assert jobs["deploy-beta"]["requires"] == ["deploy-dev"]
    assert jobs["hold-prod"]["requires"] == ["deploy-beta"]


def test_every_named_job_is_defined_and_requirements_exist(config: dict) -> None:
    jobs = workflow_jobs(config)
    for name, entry in jobs.items():
        if entry.get("type") == "approval":
            continue
        assert entry["job"] in config["jobs"], f"workflow names undefined job {entry['job']!r}"
        for required in entry.get("requires", []):
            assert required in jobs, f"{name} requires unknown {required!r}"


def test_prod_deploy_waits_for_approval(config: dict) -> None:
    jobs = workflow_jobs(config)
    assert jobs["hold-prod"]["type"] == "approval"
    assert jobs["deploy-prod"]["requires"] == ["hold-prod"]
    assert jobs["deploy-prod"]["env"] == "prod"


def test_deploys_only_from_main(config: dict) -> None:
    jobs = workflow_jobs(config)
    for name in (*DEPLOYS, "hold-prod"):
        assert jobs[name]["filters"] == {"branches": {"only": "main"}}, name
    for name in ("test", "build"):
        assert "filters" not in jobs[name], f"{name} must run on every branch"


def test_every_job_notifies_teams_on_failure(config: dict) -> None:
    commands = config.get("commands", {})
    for name, job in config["jobs"].items():
        assert notifies_on_fail(job["steps"], commands), f"job {name} does not notify on failure"


def test_notify_check_is_not_vacuous() -> None:
    assert not notifies_on_fail([{"run": {"command": f"./{NOTIFY}"}}], {})
    assert notifies_on_fail([{"run": {"when": "on_fail", "command": f"./{NOTIFY}"}}], {})


def test_build_persists_publish_and_deploys_attach_it(config: dict) -> None:
    build_steps = config["jobs"]["build"]["steps"]
    persisted = [s["persist_to_workspace"] for s in build_steps if "persist_to_workspace" in s]
    assert persisted == [{"root": ".", "paths": ["publish"]}]
    deploy_steps = config["jobs"]["deploy"]["steps"]
    assert any("attach_workspace" in s for s in deploy_steps if isinstance(s, dict))


def test_no_aws_keys_in_the_repository_config(config: dict) -> None:
    text = CONFIG.read_text()
    assert "AWS_SECRET_ACCESS_KEY" not in text and "AWS_ACCESS_KEY_ID" not in text
    jobs = workflow_jobs(config)
    for name in DEPLOYS:
        assert jobs[name]["context"] == f"glue-partition-mgmt-{jobs[name]['env']}"
    assert "CIRCLE_OIDC_TOKEN" in text


def test_ci_image_matches_hal_settings(config: dict) -> None:
    hal = yaml.safe_load((ROOT / ".hal9000.yml").read_text())
    images = {d["image"] for d in config["executors"]["python"]["docker"]}
    assert images == {hal["image"]}


def test_hal_settings_for_every_environment() -> None:
    for env in ("dev", "beta", "prod"):
        s = settings_mod.load(env, environ={})
        assert s.function_name == f"{env}-208385-catalog-glue-partition-mgmt-process"
        assert s.layer_name_prefix.startswith(f"{env}-")
        assert s.alias == env
        assert s.runtime == "python3.12" and s.python_version == "3.12"
        assert s.requirements_file == ROOT / "requirements.txt"
        assert {"boto3", "botocore", "s3transfer"} <= set(s.runtime_provided)


def test_environment_variables_override_hal_settings(tmp_path: Path) -> None:
    environ = {
        "DEPLOY_FUNCTION_NAME": "my-fn",
        "DEPLOY_REGION": "eu-west-1",
        "DEPLOY_ALIAS": "blue",
        "DEPLOY_LAYER_PREFIX": "mine",
        "DEPLOY_REQUIREMENTS_FILE": str(tmp_path / "req.txt"),
        "DEPLOY_PUBLISH_DIR": str(tmp_path / "pub"),
        "DEPLOY_LAYER_MAX_ZIP_BYTES": "1234",
        "DEPLOY_PIP_ARGS": "--no-index --find-links '/a b'",
    }
    s = settings_mod.load("beta", environ=environ)
    assert (s.function_name, s.region, s.alias, s.layer_name_prefix) == (
        "my-fn",
        "eu-west-1",
        "blue",
        "mine",
    )
    assert s.requirements_file == tmp_path / "req.txt"
    assert s.function_zip == tmp_path / "pub" / "function.zip"
    assert s.layer_max_zip_bytes == 1234
    assert s.pip_args == ("--no-index", "--find-links", "/a b")


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(settings_mod.SettingsError, match="unknown environment"):
        settings_mod.load("staging", environ={})
