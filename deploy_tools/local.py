"""Create an environment's function on a local AWS stand-in (moto server) for a trial deploy.

On AWS the function comes from the infrastructure code; this exists only so a newcomer can
run ``./build.sh && ./deploy.sh dev`` against ``moto_server`` on their machine.
"""

from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from urllib.parse import urlparse

import boto3

from deploy_tools.settings import Settings

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
ROLE_NAME = "glue-partition-mgmt-local-role"


class NotLocalError(Exception):
    """AWS_ENDPOINT_URL does not point at this machine."""


def require_local_endpoint() -> str:
    """The endpoint URL, if it is a loopback address; refuse anything else."""
    url = os.environ.get("AWS_ENDPOINT_URL", "")
    if urlparse(url).hostname not in LOOPBACK:
        raise NotLocalError(
            "create-local-function only talks to a local server: set AWS_ENDPOINT_URL to "
            "http://127.0.0.1:<port> (moto_server). On AWS the infrastructure code creates it."
        )
    return url


def create_local_function(settings: Settings) -> str:
    """Create the IAM role and a placeholder function; return the function's ARN."""
    url = require_local_endpoint()
    iam = boto3.client("iam", region_name=settings.region, endpoint_url=url)
    lam = boto3.client("lambda", region_name=settings.region, endpoint_url=url)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    try:
        role = iam.get_role(RoleName=ROLE_NAME)["Role"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))[
            "Role"
        ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("main.py", "def lambda_handler(event, context):\n    return {}\n")
    try:
        arn = lam.get_function(FunctionName=settings.function_name)["Configuration"]["FunctionArn"]
        print(f"local: {settings.function_name} already exists", file=sys.stderr)
        return arn
    except lam.exceptions.ResourceNotFoundException:
        pass
    arn = lam.create_function(
        FunctionName=settings.function_name,
        Runtime=settings.runtime,
        Role=role["Arn"],
        Handler="main.lambda_handler",
        Code={"ZipFile": buffer.getvalue()},
        Timeout=900,
        MemorySize=1024,
        Environment={"Variables": {"LOG_LEVEL": "INFO"}},
    )["FunctionArn"]
    print(f"local: created {arn} on {url}", file=sys.stderr)
    return arn
