"""Backend tests: the shared schema validator under a short name."""

import pytest


@pytest.fixture
def validator(schema_validator):
    return schema_validator
