"""build.sh then deploy.sh against a local Lambda (moto server over HTTP), end to end.

The layer is built from a tiny wheel made here and installed with ``--no-index``, so
nothing leaves the machine; the real awswrangler layer is tested in test_layer_build.py.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
ROLE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


@pytest.fixture(scope="module")
def moto_url(moto_endpoint: str) -> str:
    """The suite's moto server, through the strict layer (tests/conftest.py), which passes
    everything but Glue through untouched; deploys reach it over HTTP."""
    return moto_endpoint


def make_wheel(folder: Path, name: str, version: str, payload_bytes: int) -> Path:
    """A pure-Python wheel with an incompressible data file of ``payload_bytes``."""
    folder.mkdir(parents=True, exist_ok=True)
    dist_info = f"{name}-{version}.dist-info"
    blob = random.Random(f"{name}{version}").randbytes(payload_bytes)
    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n'.encode(),
        f"{name}/data_a.bin": blob[: payload_bytes // 2],
        f"{name}/data_b.bin": blob[payload_bytes // 2 :],
        f"{name}/tests/test_it.py": b"def test_it():\n    pass\n",
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
        ),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = "".join(f"{path},,\n" for path in files) + f"{dist_info}/RECORD,,\n"
    files[f"{dist_info}/RECORD"] = record.encode()
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, moto_url: str) -> dict:
    """Paths and the environment the scripts run with (offline, pointed at moto)."""
    base = tmp_path_factory.mktemp("deploy")
    wheels = base / "wheels"
    # ~300 KB of random bytes per version and 250 KB zips: the layer comes out in 2 parts.
    make_wheel(wheels, "gcpm_fakedep", "1.0", 300_000)
    make_wheel(wheels, "gcpm_fakedep", "2.0", 300_000)
    requirements = base / "requirements.txt"
    requirements.write_text("gcpm_fakedep==1.0\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PIP_", "DEPLOY_"))}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": moto_url,
            "PIP_CONFIG_FILE": os.devnull,
            "PYTHON": sys.executable,
            "DEPLOY_REGION": REGION,
            "DEPLOY_PUBLISH_DIR": str(base / "publish"),
            "DEPLOY_BUILD_DIR": str(base / "build"),
            "DEPLOY_REQUIREMENTS_FILE": str(requirements),
            "DEPLOY_PIP_ARGS": f"--no-index --find-links {wheels}",
            "DEPLOY_LAYER_MAX_ZIP_BYTES": "250000",
        }
    )
    return {"base": base, "requirements": requirements, "env": env, "url": moto_url}


def run(script: str, *args: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(ROOT / script), *args], env=env, capture_output=True, text=True, timeout=300
    )
    if check and done.returncode != 0:
        pytest.fail(f"{script} {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return done


def client(workspace: dict, service: str):  # boto3 clients are untyped
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=workspace["url"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def create_function(workspace: dict, name: str, foreign_layers: int = 1) -> list[str]:
    """The function as the infrastructure code would leave it; returns the foreign layer ARNs."""
    iam = client(workspace, "iam")
    try:
        role_arn = iam.get_role(RoleName="gcpm-test-role")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role_arn = iam.create_role(RoleName="gcpm-test-role", AssumeRolePolicyDocument=ROLE_POLICY)[
            "Role"
        ]["Arn"]
    lam = client(workspace, "lambda")
    foreign = []
    for number in range(foreign_layers):
        foreign.append(
            lam.publish_layer_version(
                LayerName=f"observability-extension-{number}",
                Content={"ZipFile": zip_bytes({"extensions/agent": b"#!/bin/sh\n"})},
                CompatibleRuntimes=["python3.12"],
            )["LayerVersionArn"]
        )
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role_arn,
        Handler="main.lambda_handler",
        Code={"ZipFile": zip_bytes({"main.py": b"def lambda_handler(e, c):\n    return {}\n"})},
        Layers=foreign,
        Environment={"Variables": {"LOG_LEVEL": "INFO", "DATABASE_NAME_PATTERN": "^raw_"}},
    )
    return foreign


def our_layer_versions(workspace: dict, prefix: str) -> dict[str, list[int]]:
    lam = client(workspace, "lambda")
    layers = lam.list_layers()["Layers"]
    return {
        layer["LayerName"]: sorted(
            v["Version"]
            for v in lam.list_layer_versions(LayerName=layer["LayerName"])["LayerVersions"]
        )
        for layer in layers
        if layer["LayerName"].startswith(prefix)
    }


def test_deploy_refuses_a_missing_function(workspace: dict) -> None:
    env = {**workspace["env"], "DEPLOY_FUNCTION_NAME": "no-such-function"}
    run("build.sh", "--skip-tests", env=env)
    done = run("deploy.sh", "dev", env=env, check=False)
    assert done.returncode != 0
    assert "'no-such-function' does not exist" in done.stderr
    assert "Traceback" not in done.stderr
    assert client(workspace, "lambda").list_layers()["Layers"] == []


def test_build_then_deploy_dev_end_to_end(workspace: dict) -> None:
    env = workspace["env"]
    publish = workspace["base"] / "publish"
    name = "dev-208385-catalog-glue-partition-mgmt-process"  # the default from .hal9000.yml
    prefix = "dev-208385-catalog-glue-partition-mgmt-deps"
    (foreign,) = create_function(workspace, name)
    lam = client(workspace, "lambda")

    # First deploy: no layer zips in publish/, so deploy.sh builds them itself.
    run("build.sh", "--skip-tests", env=env)
    manifest = json.loads((publish / "manifest.json").read_text())
    assert manifest["layers"] == []
    first = run("deploy.sh", "dev", env=env)
    assert "building them" in first.stderr

    config = lam.get_function_configuration(FunctionName=name)
    code = (publish / "function.zip").read_bytes()
    assert config["CodeSha256"] == base64.b64encode(hashlib.sha256(code).digest()).decode()
    layers = [layer["Arn"] for layer in config["Layers"]]
    assert len(layers) == 3
    assert layers[0] == foreign
    assert [arn.split(":")[6:] for arn in layers[1:]] == [
        [f"{prefix}-1", "1"],
        [f"{prefix}-2", "1"],
    ]
    variables = config["Environment"]["Variables"]
    requirements_sha = hashlib.sha256(workspace["requirements"].read_bytes()).hexdigest()
    assert variables["REQUIREMENTS_SHA256"] == requirements_sha
    assert variables["GIT_SHA"] == manifest["git_sha"] != ""
    assert variables["LOG_LEVEL"] == "INFO"
    assert variables["DATABASE_NAME_PATTERN"] == "^raw_"
    tags = lam.list_tags(Resource=config["FunctionArn"])["Tags"]
    assert tags["REQUIREMENTS_SHA256"] == requirements_sha
    assert tags["GIT_SHA"] == manifest["git_sha"]
    alias = lam.get_alias(FunctionName=name, Name="dev")
    versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
    newest = max(int(v["Version"]) for v in versions if v["Version"] != "$LATEST")
    assert alias["FunctionVersion"] == str(newest)
    aliased = lam.get_function_configuration(FunctionName=name, Qualifier="dev")
    assert aliased["CodeSha256"] == config["CodeSha256"]
    assert [layer["Arn"] for layer in aliased["Layers"]] == layers
    assert aliased["Environment"]["Variables"]["REQUIREMENTS_SHA256"] == requirements_sha
    assert our_layer_versions(workspace, prefix) == {f"{prefix}-1": [1], f"{prefix}-2": [1]}

    # Second deploy, nothing changed: no layer is built or published.
    again = run("deploy.sh", "dev", env=env)
    assert "requirements unchanged" in again.stderr
    assert our_layer_versions(workspace, prefix) == {f"{prefix}-1": [1], f"{prefix}-2": [1]}
    config = lam.get_function_configuration(FunctionName=name)
    assert [layer["Arn"] for layer in config["Layers"]] == layers

    # New requirements, layer built by build.sh --layer: deploy reuses those zips and
    # publishes new versions in place of ours; the foreign layer stays first.
    workspace["requirements"].write_text("gcpm_fakedep==2.0\n")
    run("build.sh", "--skip-tests", "--layer", env=env)
    manifest = json.loads((publish / "manifest.json").read_text())
    assert [part["file"] for part in manifest["layers"]] == [
        "layer/layer-1.zip",
        "layer/layer-2.zip",
    ]
    third = run("deploy.sh", "dev", env=env)
    assert "reusing the layer zips" in third.stderr
    assert our_layer_versions(workspace, prefix) == {f"{prefix}-1": [1, 2], f"{prefix}-2": [1, 2]}
    config = lam.get_function_configuration(FunctionName=name)
    assert [layer["Arn"].split(":")[6:] for layer in config["Layers"]] == [
        foreign.split(":")[6:],
        [f"{prefix}-1", "2"],
        [f"{prefix}-2", "2"],
    ]
    new_sha = hashlib.sha256(workspace["requirements"].read_bytes()).hexdigest()
    assert config["Environment"]["Variables"]["REQUIREMENTS_SHA256"] == new_sha
    assert config["Environment"]["Variables"]["LOG_LEVEL"] == "INFO"
    alias = lam.get_alias(FunctionName=name, Name="dev")
    assert int(alias["FunctionVersion"]) > newest
    workspace["requirements"].write_text("gcpm_fakedep==1.0\n")


def test_six_layers_refused_before_publishing(workspace: dict) -> None:
    """4 foreign layers + our 2 parts = 6 > 5: nothing may be published or changed."""
    name = "beta-208385-catalog-glue-partition-mgmt-process"
    prefix = "beta-208385-catalog-glue-partition-mgmt-deps"
    foreign = create_function(workspace, name, foreign_layers=4)
    env = workspace["env"]
    run("build.sh", "--skip-tests", "--layer", "beta", env=env)
    done = run("deploy.sh", "beta", env=env, check=False)
    assert done.returncode != 0
    assert "at most 5 layers" in done.stderr
    assert our_layer_versions(workspace, prefix) == {}
    config = client(workspace, "lambda").get_function_configuration(FunctionName=name)
    assert [layer["Arn"] for layer in config["Layers"]] == foreign
    assert "REQUIREMENTS_SHA256" not in config["Environment"]["Variables"]


def test_oversized_layer_refused_before_publishing(workspace: dict) -> None:
    """layer.json claims 300 MB unzipped (a fake size): refused, nothing published."""
    name = "prod-208385-catalog-glue-partition-mgmt-process"
    prefix = "prod-208385-catalog-glue-partition-mgmt-deps"
    create_function(workspace, name, foreign_layers=0)
    publish = workspace["base"] / "publish-oversized"  # the faked layer.json stays here
    env = {**workspace["env"], "DEPLOY_PUBLISH_DIR": str(publish)}
    run("build.sh", "--skip-tests", "--layer", "prod", env=env)
    layer_json = publish / "layer" / "layer.json"
    info = json.loads(layer_json.read_text())
    info["parts"][0]["unzipped"] = 300_000_000
    layer_json.write_text(json.dumps(info))
    done = run("deploy.sh", "prod", env=env, check=False)
    assert done.returncode != 0
    assert "262,144,000" in done.stderr
    assert our_layer_versions(workspace, prefix) == {}


def test_function_zip_is_deterministic(workspace: dict, tmp_path: Path) -> None:
    env = workspace["env"]
    publish = workspace["base"] / "publish"
    run("build.sh", "--skip-tests", env=env)
    first = (publish / "function.zip").read_bytes()
    for path in [ROOT / "main.py", *(ROOT / "modules").rglob("*.py")]:
        os.utime(path)  # new mtimes must not change a byte
    run("build.sh", "--skip-tests", env=env)
    assert (publish / "function.zip").read_bytes() == first
    with zipfile.ZipFile(io.BytesIO(first)) as zf:
        names = zf.namelist()
        assert names == sorted(names)
        assert "main.py" in names
        assert all(n == "main.py" or n.startswith("modules/") for n in names)
        assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
        assert {info.date_time for info in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_create_local_function_for_a_trial_deploy(workspace: dict) -> None:
    """The newcomer's path in docs/deployment.md: create the function, deploy."""
    env = {**workspace["env"], "DEPLOY_FUNCTION_NAME": "trial-fn", "DEPLOY_LAYER_PREFIX": "trial"}
    cmd = [sys.executable, "-m", "deploy_tools", "create-local-function", "dev"]
    for _ in range(2):  # a second run finds it and changes nothing
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    config = client(workspace, "lambda").get_function_configuration(FunctionName="trial-fn")
    assert config["Runtime"] == "python3.12"
    run("build.sh", "--skip-tests", env=env)
    run("deploy.sh", "dev", env=env)
    alias = client(workspace, "lambda").get_alias(FunctionName="trial-fn", Name="dev")
    assert alias["FunctionVersion"] == "1"


def test_create_local_function_refuses_a_real_endpoint(workspace: dict) -> None:
    env = {**workspace["env"], "AWS_ENDPOINT_URL": "https://lambda.us-east-1.amazonaws.com"}
    cmd = [sys.executable, "-m", "deploy_tools", "create-local-function", "dev"]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "only talks to a local server" in done.stderr
