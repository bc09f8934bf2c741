"""Post a failed pipeline step to a Microsoft Teams channel (standard library only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping

RETRY_STATUSES = {429, 500, 502, 503, 504}


def warn(message: str) -> None:
    """Warnings go to stderr; the notifier never fails the step it reports on."""
    print(f"teams_notify_on_fail: warning: {message}", file=sys.stderr, flush=True)


def commit_message(environ: Mapping[str, str]) -> str:
    """$COMMIT_MESSAGE, else the commit's message from git (first 500 characters)."""
    if environ.get("COMMIT_MESSAGE"):
        return environ["COMMIT_MESSAGE"][:500]
    rev = environ.get("CIRCLE_SHA1") or "HEAD"
    out = subprocess.run(
        ["git", "log", "-1", "--format=%B", rev], capture_output=True, text=True, check=False
    )
    return out.stdout.strip()[:500] if out.returncode == 0 else ""


def build_card(environ: Mapping[str, str]) -> dict:
    """An Adaptive Card message describing the failed job, from CircleCI's variables."""
    get = environ.get
    project = get("CIRCLE_PROJECT_REPONAME", "glue-catalog-partition-management")
    job = get("CIRCLE_JOB", "unknown job")
    sha = get("CIRCLE_SHA1", "")
    facts = [
        ("Project", project),
        ("Branch", get("CIRCLE_BRANCH") or get("CIRCLE_TAG") or "unknown"),
        ("Commit", sha[:12] or "unknown"),
        ("Message", commit_message(environ) or "-"),
        ("Job", job),
        ("Author", get("CIRCLE_USERNAME", "unknown")),
    ]
    body: list[dict] = [
        {
            "type": "TextBlock",
            "size": "Medium",
            "weight": "Bolder",
            "color": "Attention",
            "text": f"{project}: {job} failed",
            "wrap": True,
        },
        {"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in facts]},
    ]
    card: dict = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if get("CIRCLE_BUILD_URL"):
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": "Open the build", "url": get("CIRCLE_BUILD_URL")}
        ]
    return {
        "type": "message",
        "summary": f"{project}: {job} failed",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }


def post(url: str, payload: dict, retries: int, backoff: float, timeout: float) -> bool:
    """POST the payload, retrying on 429/5xx and network errors; True once delivered."""
    data = json.dumps(payload).encode()
    for attempt in range(1, retries + 2):
        request = urllib.request.Request(
            url, data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        delay = backoff * 2 ** (attempt - 1)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
            print(f"teams_notify_on_fail: posted (attempt {attempt})", file=sys.stderr)
            return True
        except urllib.error.HTTPError as exc:
            if exc.code not in RETRY_STATUSES:
                warn(f"Teams answered HTTP {exc.code}; not retrying")
                return False
            retry_after = exc.headers.get("Retry-After", "")
            if retry_after.isdigit():
                delay = min(max(delay, float(retry_after)), 60 * backoff)
            reason = f"HTTP {exc.code}"
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            # The reason names neither the URL nor its token, only the network failure.
            reason = type(exc).__name__
        if attempt <= retries:
            warn(f"attempt {attempt} failed ({reason}); retrying in {delay:g}s")
            time.sleep(delay)
        else:
            warn(f"giving up after {attempt} attempts ({reason})")
    return False


def notify(environ: Mapping[str, str] | None = None) -> int:
    """Entry point: always returns 0 (a failed notification must not add a second failure)."""
    environ = os.environ if environ is None else environ
    url = environ.get("TEAMS_WEBHOOK_URL", "").strip()
    if not url:
        warn("TEAMS_WEBHOOK_URL is not set; no notification sent")
        return 0
    try:
        retries = int(environ.get("TEAMS_NOTIFY_RETRIES", "3"))
        backoff = float(environ.get("TEAMS_NOTIFY_BACKOFF_SECONDS", "2"))
        timeout = float(environ.get("TEAMS_NOTIFY_TIMEOUT_SECONDS", "10"))
    except ValueError:
        warn("TEAMS_NOTIFY_* settings are not numbers; using the defaults")
        retries, backoff, timeout = 3, 2.0, 10.0
    try:
        post(url, build_card(environ), retries, backoff, timeout)
    except Exception as exc:
        warn(f"could not notify ({type(exc).__name__})")
    return 0
