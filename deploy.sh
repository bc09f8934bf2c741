#!/usr/bin/env bash
# Deploy publish/ (from ./build.sh) to one environment's Lambda function.
# Usage: ./deploy.sh dev|beta|prod
#   1. if the requirements sha256 recorded on the function differs from the manifest's (or
#      none is recorded): reuse or build the layer zips, check Lambda's limits, publish new
#      layer versions and attach them (foreign layers stay attached, untouched)
#   2. update the code from publish/function.zip and wait for the update to finish
#   3. record git sha + requirements sha256 on the function (update_env_sha_val.sh), so the
#      version published next carries them
#   4. publish a version and point the environment's alias at it
# Settings come from .hal9000.yml; DEPLOY_* environment variables override them. The AWS
# endpoint, region and credentials are boto3's usual ones (AWS_ENDPOINT_URL for a local server).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$here/.venv/bin/python" ]]; then PYTHON="$here/.venv/bin/python"; else PYTHON=python3; fi
fi
export PYTHON

if [[ $# -ne 1 ]] || [[ ! "$1" =~ ^(dev|beta|prod)$ ]]; then
    echo "usage: $0 dev|beta|prod" >&2
    exit 2
fi
env_name="$1"

cd "$here"
"$PYTHON" -m deploy_tools deploy "$env_name"
"$here/update_env_sha_val.sh" "$env_name"
"$PYTHON" -m deploy_tools release "$env_name"
echo "deploy: $env_name done" >&2
