#!/usr/bin/env bash
# Package the function for Lambda.
# Usage: ./build.sh [--skip-tests] [--layer] [dev|beta|prod]
#   default       lint (ruff, shellcheck) and the fast tests, then publish/function.zip and
#                 publish/manifest.json
#   --skip-tests  package only
#   --layer       also build the dependency layer zips (publish/layer/, see build_layer.sh)
# Settings come from .hal9000.yml; DEPLOY_* environment variables override them.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$here/.venv/bin/python" ]]; then PYTHON="$here/.venv/bin/python"; else PYTHON=python3; fi
fi
export PYTHON

run_tests=1
with_layer=0
env_name=dev
for arg in "$@"; do
    case "$arg" in
        --skip-tests) run_tests=0 ;;
        --layer) with_layer=1 ;;
        dev | beta | prod) env_name="$arg" ;;
        -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
    esac
done

cd "$here"
if [[ "$run_tests" == 1 ]]; then
    echo "build: lint" >&2
    "$PYTHON" -m ruff check .
    "$PYTHON" -m ruff format --check .
    shellcheck_bin="$(dirname "$PYTHON")/shellcheck"
    [[ -x "$shellcheck_bin" ]] || shellcheck_bin=shellcheck
    "$shellcheck_bin" ./*.sh .ci/run
    echo "build: fast tests (the real layer build and the deploy end to end run in CI)" >&2
    "$PYTHON" -m pytest -q -m "not layer" --ignore=tests/test_deploy_e2e.py
fi

"$PYTHON" -m deploy_tools build-function "$env_name"
if [[ "$with_layer" == 1 ]]; then
    "$here/build_layer.sh" "$env_name"
fi
echo "build: done; see ${DEPLOY_PUBLISH_DIR:-publish}/manifest.json" >&2
