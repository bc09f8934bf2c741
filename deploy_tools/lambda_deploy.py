"""Deploy to Lambda: layers, code, version and alias; record what was deployed."""

from __future__ import annotations

import base64
import io
import re
import subprocess
import sys
import urllib.request
import zipfile
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from deploy_tools.layer import matching_layer
from deploy_tools.limits import MAX_DIRECT_UPLOAD_BYTES, LayerSize, LimitError, check_limits
from deploy_tools.settings import Settings

# Recorded on the function (environment variables and tags) by update_env_sha_val.sh.
GIT_SHA_KEY = "GIT_SHA"
REQUIREMENTS_SHA_KEY = "REQUIREMENTS_SHA256"
_UNZIPPED_RE = re.compile(r"unzipped (\d+)")


class DeployError(Exception):
    """The deploy cannot go on; the message says why."""


def log(message: str) -> None:
    """Progress goes to stderr so stdout stays clean for callers."""
    print(f"deploy: {message}", file=sys.stderr, flush=True)


def lambda_client(settings: Settings) -> Any:
    """A Lambda client for the environment's region (AWS_ENDPOINT_URL is honoured by botocore)."""
    config = Config(retries={"mode": "standard", "max_attempts": 8})
    return boto3.client("lambda", region_name=settings.region, config=config)


def get_configuration(client: Any, settings: Settings) -> dict:
    """The function's configuration, or a clear error when the function does not exist."""
    try:
        return client.get_function_configuration(FunctionName=settings.function_name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            raise DeployError(
                f"Lambda function {settings.function_name!r} does not exist in {settings.region}. "
                "It is created by the infrastructure code, not by this script: create it there "
                "first (or set DEPLOY_FUNCTION_NAME). Nothing was deployed."
            ) from None
        raise


def _guard(config: dict) -> dict[str, str]:
    """RevisionId of the configuration we read, so a concurrent change fails our update
    instead of being overwritten (moto does not return one; then there is no guard)."""
    return {"RevisionId": config["RevisionId"]} if config.get("RevisionId") else {}


def wait_updated(client: Any, name: str) -> None:
    """Block until the function's last update has finished (and fail if it failed)."""
    waiter = client.get_waiter("function_updated_v2")
    waiter.wait(FunctionName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 150})


def layer_name(arn: str) -> str:
    """'name' from 'arn:aws:lambda:region:account:layer:name:version'."""
    return arn.split(":")[6]


def is_ours(arn: str, prefix: str) -> bool:
    """Whether a layer version ARN is one of the layers this project publishes."""
    return re.fullmatch(re.escape(prefix) + r"-\d+", layer_name(arn)) is not None


def place_layers(current: list[str], ours: list[str], prefix: str) -> list[str]:
    """The new layer list: foreign layers untouched and in order, ours in part order.

    Ours take the place of our previous versions (where the first of them was); on a
    function without them they go after the foreign layers.
    """
    kept: list[str] = []
    insert_at: int | None = None
    for arn in current:
        if is_ours(arn, prefix):
            insert_at = len(kept) if insert_at is None else insert_at
        else:
            kept.append(arn)
    at = len(kept) if insert_at is None else insert_at
    return kept[:at] + ours + kept[at:]


def _download_unzipped_size(url: str) -> int:
    with urllib.request.urlopen(url, timeout=60) as response:
        data = response.read()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return sum(info.file_size for info in zf.infolist())


def layer_sizes(client: Any, settings: Settings, layers: list[dict]) -> list[LayerSize]:
    """Unzipped sizes of attached layers: from our descriptions, or by reading foreign zips.

    When a foreign layer cannot be read, its zipped size stands in (a lower bound) and a
    warning says so; Lambda itself still refuses an oversized function at update time.
    """
    sizes = []
    for layer in layers:
        arn = layer["Arn"]
        code_size = int(layer.get("CodeSize", 0))
        try:
            info = client.get_layer_version(
                LayerName=arn.rsplit(":", 1)[0], VersionNumber=int(arn.rsplit(":", 1)[1])
            )
        except ClientError as exc:
            log(
                f"warning: cannot read layer {arn} ({exc.response['Error']['Code']}); "
                f"counting its zipped size {code_size:,} bytes"
            )
            sizes.append(LayerSize(arn, code_size, exact=False))
            continue
        match = _UNZIPPED_RE.search(info.get("Description", ""))
        location = info.get("Content", {}).get("Location", "")
        if match:
            sizes.append(LayerSize(arn, int(match.group(1))))
        elif settings.inspect_foreign_layers and location.startswith("https://"):
            sizes.append(LayerSize(arn, _download_unzipped_size(location)))
        else:
            log(
                f"warning: unzipped size of layer {arn} unknown; counting its zipped size "
                f"{code_size:,} bytes"
            )
            sizes.append(LayerSize(arn, code_size, exact=False))
    return sizes


def ensure_layer_zips(settings: Settings, requirements_sha256: str) -> dict:
    """Layer zips for these requirements: reuse publish/layer or run build_layer.sh."""
    info = matching_layer(settings, requirements_sha256)
    if info:
        log(f"reusing the layer zips in {settings.layer_dir} (same requirements)")
        return info
    log("no layer zips for these requirements in publish/: building them")
    script = settings.root / "build_layer.sh"
    subprocess.run([str(script), settings.env], check=True)
    info = matching_layer(settings, requirements_sha256)
    if not info:
        raise DeployError(
            f"{settings.requirements_file} changed since build.sh wrote the manifest: "
            "run ./build.sh again"
        )
    return info


def publish_layers(client: Any, settings: Settings, info: dict) -> list[str]:
    """Publish every layer zip as a new version of '<prefix>-<n>'; return their ARNs."""
    arns = []
    total = len(info["parts"])
    for number, part in enumerate(info["parts"], start=1):
        name = f"{settings.layer_name_prefix}-{number}"
        description = (
            f"requirements sha256 {info['requirements_sha256'][:16]}; part {number}/{total}; "
            f"unzipped {part['unzipped']}; zip sha256 {part['sha256'][:16]}"
        )
        data = (settings.layer_dir / part["file"]).read_bytes()
        response = client.publish_layer_version(
            LayerName=name,
            Description=description,
            Content={"ZipFile": data},
            CompatibleRuntimes=[settings.runtime],
            CompatibleArchitectures=[settings.architecture],
        )
        arns.append(response["LayerVersionArn"])
        log(f"published layer {response['LayerVersionArn']} ({part['size']:,} bytes)")
    return arns


def deploy_code(settings: Settings, manifest: dict) -> None:
    """Layers (when the requirements changed) and code; ends with the update finished."""
    client = lambda_client(settings)
    name = settings.function_name
    config = get_configuration(client, settings)
    function_zip = settings.function_zip.read_bytes()
    if len(function_zip) > MAX_DIRECT_UPLOAD_BYTES:
        raise LimitError(
            f"function.zip is {len(function_zip):,} bytes: over the {MAX_DIRECT_UPLOAD_BYTES:,} "
            "bytes Lambda accepts inline"
        )
    attached = config.get("Layers", [])
    prefix = settings.layer_name_prefix
    ours_now = [layer for layer in attached if is_ours(layer["Arn"], prefix)]
    foreign = [layer for layer in attached if not is_ours(layer["Arn"], prefix)]
    recorded = (config.get("Environment") or {}).get("Variables", {}).get(REQUIREMENTS_SHA_KEY)
    wanted = manifest["requirements_sha256"]
    function_unzipped = int(manifest["function"]["unzipped"])
    foreign_sizes = layer_sizes(client, settings, foreign)

    if recorded == wanted and ours_now:
        log(f"requirements unchanged (sha256 {wanted[:16]}): layers left as they are")
        check_limits(function_unzipped, layer_sizes(client, settings, ours_now), foreign_sizes)
    else:
        why = "none recorded" if not recorded else f"recorded {recorded[:16]}"
        if recorded == wanted:
            why = "our layers are not attached"
        log(f"requirements sha256 {wanted[:16]} ({why}): publishing new layer versions")
        info = ensure_layer_zips(settings, wanted)
        ours_sizes = [LayerSize(part["file"], int(part["unzipped"])) for part in info["parts"]]
        check_limits(function_unzipped, ours_sizes, foreign_sizes)  # before publishing anything
        new_arns = publish_layers(client, settings, info)
        layers = place_layers([layer["Arn"] for layer in attached], new_arns, prefix)
        wait_updated(client, name)
        client.update_function_configuration(FunctionName=name, Layers=layers, **_guard(config))
        wait_updated(client, name)
        log(f"layers attached: {', '.join(layers)}")

    wait_updated(client, name)
    response = client.update_function_code(FunctionName=name, ZipFile=function_zip)
    wait_updated(client, name)
    expected = base64.b64encode(bytes.fromhex(manifest["function"]["sha256"])).decode()
    if response["CodeSha256"] != expected:
        raise DeployError(f"Lambda reports code {response['CodeSha256']}, expected {expected}")
    log(f"code updated: {name} CodeSha256 {expected}")


def release(settings: Settings, manifest: dict) -> str:
    """Publish a version of what $LATEST now holds and point the alias at it."""
    client = lambda_client(settings)
    name = settings.function_name
    get_configuration(client, settings)
    wait_updated(client, name)
    expected = base64.b64encode(bytes.fromhex(manifest["function"]["sha256"])).decode()
    version = client.publish_version(
        FunctionName=name,
        CodeSha256=expected,
        Description=(
            f"git {manifest['git_sha']}; requirements {manifest['requirements_sha256'][:16]}"
        ),
    )["Version"]
    alias = settings.alias
    try:
        client.get_alias(FunctionName=name, Name=alias)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        client.create_alias(FunctionName=name, Name=alias, FunctionVersion=version)
    else:
        client.update_alias(FunctionName=name, Name=alias, FunctionVersion=version)
    log(f"published version {version}; alias {alias!r} now points at it")
    return version


def record(settings: Settings, manifest: dict) -> dict[str, str]:
    """Record the deployed git sha and requirements sha256 as env variables and tags.

    Lambda replaces the whole variable map on update, so the existing variables are read
    and merged: only our two keys change.
    """
    client = lambda_client(settings)
    name = settings.function_name
    values = {
        GIT_SHA_KEY: manifest["git_sha"],
        REQUIREMENTS_SHA_KEY: manifest["requirements_sha256"],
    }
    wait_updated(client, name)
    config = get_configuration(client, settings)
    current = (config.get("Environment") or {}).get("Variables", {})
    merged = {**current, **values}
    if merged != current:
        client.update_function_configuration(
            FunctionName=name,
            Environment={"Variables": merged},
            **_guard(config),
        )
        wait_updated(client, name)
    function_arn = ":".join(config["FunctionArn"].split(":")[:7])  # without a qualifier
    client.tag_resource(Resource=function_arn, Tags=values)
    log(f"recorded on {name}: {', '.join(f'{k}={v}' for k, v in values.items())}")
    return values
