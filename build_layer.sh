#!/usr/bin/env bash
# Build the dependency layer: pip install requirements for the Lambda runtime's platform and
# Python, trim what the runtime provides or never runs, split into zips under the size limit.
# Writes publish/layer/layer-N.zip and publish/layer/layer.json.
# Usage: ./build_layer.sh [dev|beta|prod]   (settings: .hal9000.yml, DEPLOY_* overrides)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$here/.venv/bin/python" ]]; then PYTHON="$here/.venv/bin/python"; else PYTHON=python3; fi
fi

cd "$here"
exec "$PYTHON" -m deploy_tools build-layer "${1:-dev}"
