"""teams_notify_on_fail.sh against a local webhook on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "teams_notify_on_fail.sh"
SECRET = "IncomingWebhook/0f1e2d3c-SECRET-TOKEN"
BRANCH = "feature/\"quoted\" 'branch' \\ back"
MESSAGE = 'Fix "partition" parsing\n\nIt\'s a multi-line\nmessage with {"json": true} inside'


class Webhook:
    """A fake Teams endpoint: answers each POST with the next scripted status."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.bodies: list[bytes] = []
        self.paths: list[str] = []
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                webhook.bodies.append(self.rfile.read(length))
                webhook.paths.append(self.path)
                status = webhook.statuses.pop(0) if webhook.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "1")
                self.end_headers()
                self.wfile.write(b"1")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhookb2/{SECRET}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    hook.thread.start()
    try:
        yield hook
    finally:
        hook.server.shutdown()
        hook.server.server_close()


def run_notify(env_extra: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIRCLE_", "TEAMS_"))}
    env.update(
        {
            "CIRCLE_PROJECT_REPONAME": "glue-catalog-partition-management",
            "CIRCLE_BRANCH": BRANCH,
            "CIRCLE_SHA1": "0123456789abcdef0123456789abcdef01234567",
            "CIRCLE_JOB": "deploy-beta",
            "CIRCLE_USERNAME": "o'brien",
            "CIRCLE_BUILD_URL": "https://app.circleci.com/pipelines/gh/acme/repo/42",
            "COMMIT_MESSAGE": MESSAGE,
            "TEAMS_NOTIFY_BACKOFF_SECONDS": "0.01",
            "TEAMS_NOTIFY_TIMEOUT_SECONDS": "5",
        }
    )
    env.update(env_extra)
    return subprocess.run(
        [str(SCRIPT)], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def assert_url_hidden(done: subprocess.CompletedProcess, url: str) -> None:
    for stream in (done.stdout, done.stderr):
        assert url not in stream
        assert "SECRET-TOKEN" not in stream
        assert "webhookb2" not in stream


def facts(body: bytes) -> dict[str, str]:
    payload = json.loads(body)
    card = payload["attachments"][0]["content"]
    assert payload["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["type"] == "AdaptiveCard"
    factset = next(b for b in card["body"] if b["type"] == "FactSet")
    result = {f["title"]: f["value"] for f in factset["facts"]}
    result["_link"] = card["actions"][0]["url"] if "actions" in card else ""
    return result


def test_posts_valid_json_with_every_field(webhook: Webhook) -> None:
    done = run_notify({"TEAMS_WEBHOOK_URL": webhook.url})
    assert done.returncode == 0, done.stderr
    assert len(webhook.bodies) == 1
    assert webhook.paths == [f"/webhookb2/{SECRET}"]
    got = facts(webhook.bodies[0])
    assert got["Project"] == "glue-catalog-partition-management"
    assert got["Branch"] == BRANCH
    assert got["Commit"] == "0123456789ab"
    assert got["Message"] == MESSAGE
    assert got["Job"] == "deploy-beta"
    assert got["Author"] == "o'brien"
    assert got["_link"] == "https://app.circleci.com/pipelines/gh/acme/repo/42"
    assert_url_hidden(done, webhook.url)


def test_commit_message_read_from_git(webhook: Webhook, tmp_path: Path) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "f").write_text("x")
    subprocess.run([*git, "-C", str(tmp_path), "add", "f"], check=True)
    subprocess.run([*git, "-C", str(tmp_path), "commit", "-q", "-m", MESSAGE], check=True)
    sha = subprocess.run(
        ["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    done = run_notify(
        {"TEAMS_WEBHOOK_URL": webhook.url, "COMMIT_MESSAGE": "", "CIRCLE_SHA1": sha}, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert facts(webhook.bodies[0])["Message"] == MESSAGE


def test_5xx_and_429_are_retried_until_delivered(webhook: Webhook) -> None:
    webhook.statuses = [500, 429, 503]
    done = run_notify({"TEAMS_WEBHOOK_URL": webhook.url})
    assert done.returncode == 0
    assert len(webhook.bodies) == 4
    assert len({body for body in webhook.bodies}) == 1  # the same payload each time
    assert "posted (attempt 4)" in done.stderr
    assert done.stderr.count("retrying") == 3
    assert_url_hidden(done, webhook.url)


def test_gives_up_after_the_retries_without_failing(webhook: Webhook) -> None:
    webhook.statuses = [502] * 10
    done = run_notify({"TEAMS_WEBHOOK_URL": webhook.url, "TEAMS_NOTIFY_RETRIES": "2"})
    assert done.returncode == 0
    assert len(webhook.bodies) == 3
    assert "giving up after 3 attempts (HTTP 502)" in done.stderr
    assert_url_hidden(done, webhook.url)


def test_client_error_is_not_retried(webhook: Webhook) -> None:
    webhook.statuses = [400]
    done = run_notify({"TEAMS_WEBHOOK_URL": webhook.url})
    assert done.returncode == 0
    assert len(webhook.bodies) == 1
    assert "HTTP 400; not retrying" in done.stderr
    assert_url_hidden(done, webhook.url)


def test_unreachable_webhook_is_a_warning(webhook: Webhook) -> None:
    url = webhook.url
    webhook.server.shutdown()
    webhook.server.server_close()  # nothing listens on that port any more
    done = run_notify({"TEAMS_WEBHOOK_URL": url, "TEAMS_NOTIFY_RETRIES": "1"})
    assert done.returncode == 0
    assert "giving up after 2 attempts" in done.stderr
    assert_url_hidden(done, url)


def test_missing_url_is_a_warning_not_a_failure(webhook: Webhook) -> None:
    done = run_notify({})
    assert done.returncode == 0
    assert "TEAMS_WEBHOOK_URL is not set" in done.stderr
    assert webhook.bodies == []


def test_notifier_needs_only_the_standard_library(webhook: Webhook) -> None:
    """A job can fail before the venv exists: the notifier must run with no site-packages."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "TEAMS_WEBHOOK_URL": webhook.url,
        "CIRCLE_JOB": "test",
        "COMMIT_MESSAGE": "m",
    }
    done = subprocess.run(
        [sys.executable, "-S", "-m", "deploy_tools", "notify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert facts(webhook.bodies[0])["Job"] == "test"
