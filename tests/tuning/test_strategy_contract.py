"""Every registered search strategy passes the strategy contract (stacks/tuning/testing.py) on the recorded
vLLM-on-CPU surface, through the real driver."""

from __future__ import annotations

from pathlib import Path

import pytest

from stacks.tuning.replay import load_surface
from stacks.tuning.strategies import STRATEGIES
from stacks.tuning.testing import StrategyContract

SURFACE = Path(__file__).resolve().parents[2] / "stacks" / "tuning" / "surfaces" / "vllm-cpu-tiny.json"


class TestEveryStrategy(StrategyContract):
    @pytest.fixture(params=list(STRATEGIES))
    def strategy(self, request):
        return request.param

    @pytest.fixture
    def surface(self):
        return load_surface(SURFACE)
