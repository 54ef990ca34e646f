"""G24: a gated Hugging Face model needs a token where it is downloaded.

The hub answers a gated model's info without a token but refuses its files (HTTP 401 without a token, 403
with one whose account has not accepted the terms), so an endpoint without `modelSource.tokenSecret` plans
clean and fails at download. Whether a model is gated comes from models.lock.json (`gated`, recorded by
`python -m stacks models lock` from the hub's model info); the plan warns, preflight (which asks the hub
again) makes it an error. Pure: the caller hands in the lock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from .catalog import G24
from .fit import facts_for
from .model_facts import ModelFacts
from .problems import Problem, Severity
from .spec import EndpointSpec, HuggingFaceSource

FIX = "create a Secret holding a Hugging Face token of an account that accepted the model's terms in the endpoint's namespace, and set modelSource.tokenSecret: {name: hf-token, key: token}"


def hub_id(spec: EndpointSpec) -> str | None:
    """The Hugging Face model the endpoint downloads; None for other sources."""
    src = spec.model_source
    return (src.model_id or spec.model) if isinstance(src, HuggingFaceSource) else None


def without_token(spec: EndpointSpec, gated: bool | None, path: str, severity: Severity) -> list[Problem]:
    """G24 for one endpoint whose model is (`gated`) gated on the hub."""
    src = spec.model_source
    if not isinstance(src, HuggingFaceSource) or src.token_secret is not None or not gated:
        return []
    message = f"{hub_id(spec)} is gated on Hugging Face and the endpoint has no token: the download gets HTTP 401 and the engine never starts"
    return [Problem(f"{path}.modelSource.tokenSecret", None, G24, message, FIX, severity)]


def check_endpoints(
    specs: Sequence[EndpointSpec], lock: Mapping[str, ModelFacts], endpoint_path: Callable[[int], str]
) -> list[Problem]:
    """The plan's G24: a warning per endpoint whose locked model is gated and which has no token Secret."""
    found: list[Problem] = []
    for i, spec in enumerate(specs):
        facts = facts_for(spec, lock)  # the entry G23 sizes the endpoint by
        found += without_token(spec, facts.gated if facts else None, endpoint_path(i), "warning")
    return found
