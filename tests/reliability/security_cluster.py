"""A recorder of every webhook exchange the stand-in makes, for the security tests that drive
whole flows (the cluster, kubectl and hooks server fixtures come from tests/reliability/conftest).

Import the fixture into a test module (``from tests.reliability.security_cluster import ...``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.standin import metacontroller


@dataclass(frozen=True)
class HookExchange:
    """One webhook call: where it went, the request body and the decoded answer."""

    url: str
    request: dict[str, Any]
    response: Any


@pytest.fixture
def hook_exchanges(monkeypatch: pytest.MonkeyPatch) -> list[HookExchange]:
    """Every webhook request and response of this test, recorded as the stand-in sends them
    (the real call still happens; the recorder only keeps a copy)."""
    recorded: list[HookExchange] = []
    real_call = metacontroller.call_hook

    def recording_call(url: str, body: dict[str, Any], timeout: float) -> Any:
        response = real_call(url, body, timeout)
        recorded.append(HookExchange(url, body, response))
        return response

    monkeypatch.setattr(metacontroller, "call_hook", recording_call)
    return recorded
