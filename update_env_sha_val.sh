#!/usr/bin/env bash
# Record what is deployed on an environment's function: the git sha and the sha256 of
# requirements.txt from publish/manifest.json, as environment variables (merged with the
# function's other variables, none of which is dropped) and as tags.
# Usage: ./update_env_sha_val.sh dev|beta|prod
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$here/.venv/bin/python" ]]; then PYTHON="$here/.venv/bin/python"; else PYTHON=python3; fi
fi

if [[ $# -ne 1 ]] || [[ ! "$1" =~ ^(dev|beta|prod)$ ]]; then
    echo "usage: $0 dev|beta|prod" >&2
    exit 2
fi

cd "$here"
exec "$PYTHON" -m deploy_tools record "$1"
