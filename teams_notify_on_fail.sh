#!/usr/bin/env bash
# Post the failed CI step to Microsoft Teams. Reads TEAMS_WEBHOOK_URL and CircleCI's
# variables (CIRCLE_PROJECT_REPONAME, CIRCLE_BRANCH, CIRCLE_SHA1, CIRCLE_JOB,
# CIRCLE_USERNAME, CIRCLE_BUILD_URL). Retries 429/5xx (TEAMS_NOTIFY_RETRIES, default 3;
# TEAMS_NOTIFY_BACKOFF_SECONDS, default 2, doubling). Never prints the webhook URL and
# always exits 0: a missing URL or an unreachable Teams is a warning, not a second failure.
# Needs only python3's standard library (it runs even when the job failed before setup).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python_bin="${PYTHON:-python3}"
command -v "$python_bin" >/dev/null 2>&1 || python_bin=python

PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" "$python_bin" -m deploy_tools notify || {
    echo "teams_notify_on_fail: warning: notifier crashed; no notification sent" >&2
}
exit 0
