"""Every registered backend passes the backend contract (components/rules/backends/testing.py): G3-G13 breaks
reported once, repaired or declared unrepaired, S1 and S3 on every engine view."""

from __future__ import annotations

import pytest

from components.rules.backends import BACKENDS
from components.rules.backends.engine_checks import ENGINE_CONTAINER_RULES
from components.rules.backends.testing import BREAKS, BackendContract


class TestEveryBackend(BackendContract):
    @pytest.fixture(params=list(BACKENDS.values()), ids=list(BACKENDS))
    def backend(self, request):
        return request.param


def test_the_contract_breaks_every_engine_container_rule():
    assert set(BREAKS) == set(ENGINE_CONTAINER_RULES)
