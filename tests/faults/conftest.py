"""The fault tests kill processes that hold run locks: their per-host lock files go to a folder of
the test session, not to the machine's."""

from __future__ import annotations

import os

import pytest

from stacks.tuning.runlock import LOCK_DIR_ENV


@pytest.fixture(autouse=True, scope="session")
def session_lock_dir(tmp_path_factory):
    previous = os.environ.get(LOCK_DIR_ENV)
    os.environ[LOCK_DIR_ENV] = str(tmp_path_factory.mktemp("locks"))  # child processes inherit it
    yield
    if previous is None:
        os.environ.pop(LOCK_DIR_ENV, None)
    else:
        os.environ[LOCK_DIR_ENV] = previous
