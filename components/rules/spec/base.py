"""The base of every config model: camelCase keys, unknown keys refused, attribute docstrings as docs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class _Model(BaseModel):
    # No inf/nan: a float lands in a custom resource or a flag, where neither means anything.
    # Attribute docstrings are the field descriptions: docs/configuration.md is generated from them.
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        use_attribute_docstrings=True,
    )
