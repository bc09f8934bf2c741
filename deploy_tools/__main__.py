"""Command line the shell scripts call: ``python -m deploy_tools COMMAND [ENV]``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

# The same names as deploy_tools.settings.ENVIRONMENTS; not imported from there so that
# "notify" runs on a bare python3 (PyYAML and boto3 may not be installed when a job fails).
ENVIRONMENTS = ("dev", "beta", "prod")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one step; print a one-line reason and return non-zero on a known failure."""
    parser = argparse.ArgumentParser(prog="python -m deploy_tools")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("build-function", "write publish/function.zip and publish/manifest.json"),
        ("build-layer", "build the layer zips into publish/layer/ and refresh the manifest"),
        ("deploy", "layers (when requirements changed) and code to $LATEST"),
        ("record", "record git sha and requirements sha256 on the function"),
        ("release", "publish a version and point the alias at it"),
        ("show", "print the settings for an environment"),
        ("create-local-function", "create the function on a local moto server (trial runs)"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument(
            "env",
            nargs="?" if name.startswith("build") else None,
            default="dev",
            choices=ENVIRONMENTS,
        )
    sub.add_parser("notify", help="post a failed CI step to Microsoft Teams")
    args = parser.parse_args(argv)

    if args.command == "notify":
        from deploy_tools.teams import notify

        return notify()

    from deploy_tools import settings as settings_mod
    from deploy_tools.build import BuildError, build_function, read_manifest, write_manifest
    from deploy_tools.layer import LayerBuildError, build_layer
    from deploy_tools.limits import LimitError

    known: tuple[type[Exception], ...] = (
        settings_mod.SettingsError,
        BuildError,
        LayerBuildError,
        LimitError,
    )
    try:
        settings = settings_mod.load(args.env)
        if args.command == "show":
            print(json.dumps({k: str(v) for k, v in vars(settings).items()}, indent=2))
        elif args.command == "create-local-function":
            from deploy_tools.local import NotLocalError, create_local_function

            known = (*known, NotLocalError)
            create_local_function(settings)
        elif args.command == "build-function":
            manifest = build_function(settings)
            print(
                f"build: {settings.function_zip} sha256 {manifest['function']['sha256']}",
                file=sys.stderr,
            )
        elif args.command == "build-layer":
            function_unzipped = 0
            if settings.manifest_file.exists():
                function_unzipped = read_manifest(settings)["function"]["unzipped"]
            build_layer(settings, function_unzipped)
            if settings.function_zip.exists():
                write_manifest(settings)
        else:
            from botocore.exceptions import BotoCoreError, ClientError

            from deploy_tools import lambda_deploy

            known = (*known, lambda_deploy.DeployError, ClientError, BotoCoreError)
            manifest = read_manifest(settings)
            step = {
                "deploy": lambda_deploy.deploy_code,
                "record": lambda_deploy.record,
                "release": lambda_deploy.release,
            }[args.command]
            step(settings, manifest)
    except known as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
