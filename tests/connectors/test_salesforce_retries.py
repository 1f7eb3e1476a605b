"""Retries never nest: one retry policy per request. An unreachable Salesforce login host is
tried as often as the policy says, then the source stops with one line naming the host; the
API call that needed the token is not retried around the token's own retries (the issue
measured 30 connection attempts over 83 s)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from connectors.retry import RetryPolicy
from connectors.salesforce import SalesforceSource
from connectors.source import Settings, SourceStopped
from connectors.warehouse import Warehouse


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]   # nothing listens once it is closed: connection refused


def test_an_unreachable_login_host_is_tried_once_per_policy(tmp_path: Path, monkeypatch) -> None:
    import requests

    port = _closed_port()
    attempts: list[str] = []
    real_send = requests.Session.send

    def counting_send(self, request, **kwargs):   # every connection attempt, whoever makes it
        attempts.append(request.url)
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", counting_send)
    sleeps: list[float] = []
    settings = Settings({
        "SALESFORCE_LOGIN_URL": f"https://127.0.0.1:{port}",
        "SALESFORCE_INSTANCE_URL": f"https://127.0.0.1:{port}",
        "SALESFORCE_CLIENT_ID": "id", "SALESFORCE_CLIENT_SECRET": "secret-value",
        "SALESFORCE_USERNAME": "u@example.com", "SALESFORCE_PASSWORD": "pw",
    })
    policy = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.02)
    with Warehouse(tmp_path / "wh.duckdb") as wh:
        source = SalesforceSource(settings, wh, retry_policy=policy, sleep=sleeps.append)
        with pytest.raises(SourceStopped) as info:
            source.sync()
    assert len(attempts) == policy.attempts, attempts      # not attempts x attempts
    assert len(sleeps) == policy.attempts - 1
    text = str(info.value)
    assert f"127.0.0.1:{port}" in text and "secret-value" not in text
    assert "\n" not in text and "Traceback" not in text
