import pytest

from tests.loadgen.scripted_server import ScriptedServer


@pytest.fixture(scope="module")
def server():
    s = ScriptedServer().start()
    yield s
    s.stop()
