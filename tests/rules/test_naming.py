"""G1 and G2: Kubernetes names, including the names the HyperPod operator derives."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from components.rules import naming

RFC1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")

# The init container name was 64 characters.
LONG_ENDPOINT = "qwen3-4b-instruct-2507-2026-01-06-04-30-58-238-sgla"
LONG_INIT_CONTAINER = "prefetch-qwen3-4b-instruct-2507-2026-01-06-04-30-58-238-sgla-inf"


def test_g1_prefetch_name_is_64_characters():
    assert naming.derived_names(LONG_ENDPOINT)[0] == LONG_INIT_CONTAINER
    assert len(LONG_INIT_CONTAINER) == 64
    problems = naming.check_name(LONG_ENDPOINT, "metadata.name", naming.HYPERPOD_DERIVED)
    assert [p.rule for p in problems] == ["G1"]
    assert "64 characters" in problems[0].message


def test_g1_budget_is_50_because_prefetch_adds_13():
    assert naming.overhead(naming.HYPERPOD_DERIVED) == 13
    assert naming.HYPERPOD_NAME_BUDGET == 50


def test_g1_name_is_fixed_to_fit():
    fixed = naming.endpoint_name("Qwen3-4B-Instruct-2507-2026-01-06-04-30-58-238-sglang")
    assert len(fixed) == 50
    assert fixed.startswith("qwen3-4b-instruct-2507-2026-01-06")
    assert all(len(d) <= 63 for d in naming.derived_names(fixed))
    assert naming.check_name(fixed, "metadata.name", naming.HYPERPOD_DERIVED) == []


def test_g1_short_names_are_kept_as_they_are():
    assert naming.endpoint_name("llama-8b") == "llama-8b"


def test_g2_uppercase_endpoint_name_is_rejected_and_lowercased():
    # spec.endpointName was not lowercased.
    value = "Qwen3-4B-Instruct-2507-2026-01-13-01-12"
    problems = naming.check_name(value, "spec.endpointName")
    assert [p.rule for p in problems] == ["G2"]
    fixed, changes = naming.fix_name(value, "spec.endpointName")
    assert fixed == "qwen3-4b-instruct-2507-2026-01-13-01-12"
    assert changes[0].rule == "G2"


def test_g2_underscores_and_spaces_become_dashes():
    assert naming.k8s_name("My_Model v2") == "my-model-v2"


def test_g2_subdomains_keep_dots():
    assert naming.k8s_name("a.B_c", allow_dots=True) == "a.b-c"


names = st.text(min_size=0, max_size=120)
patterns = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=0, max_size=20), min_size=0, max_size=3
).map(lambda parts: tuple(f"{p}-{{name}}" if i % 2 == 0 else f"{{name}}-{p}" for i, p in enumerate(parts)))


@settings(max_examples=400, deadline=None)  # CPU-bound; a loaded CI box must not flake
@given(raw=names, derived=patterns)
def test_g1_g2_property_any_input_gives_a_valid_stable_name_within_budget(raw, derived):
    name = naming.k8s_name(raw, derived)
    assert RFC1123_LABEL.match(name), name
    assert len(name) <= naming.budget(derived)
    assert all(len(d) <= 63 for d in naming.derived_names(name, derived))
    assert naming.k8s_name(raw, derived) == name  # deterministic
    assert naming.k8s_name(name, derived) == name  # idempotent: fixing a fixed name changes nothing


@settings(max_examples=30, deadline=None)
@given(prefix=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=60, max_size=90))
def test_g1_property_thousands_of_near_identical_long_names_never_collide(prefix):
    raws = [f"{prefix}-{i}" for i in range(3000)]
    fitted = {naming.endpoint_name(r) for r in raws}
    normalised = {naming.normalise(r) for r in raws}
    assert len(fitted) == len(normalised)


def test_g2_scoped_names_of_a_b_c_and_a_bc_differ():
    # OME's cluster-scoped model/runtime for namespace a-b, name c versus namespace a, name b-c.
    assert naming.scoped_name("a-b", "c") != naming.scoped_name("a", "b-c")
    assert naming.scoped_name("a-b", "c").startswith("a-b-c-")
    assert naming.resource_key("a-b", "c") != naming.resource_key("a", "b-c")


labels = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(first=st.tuples(labels, labels), second=st.tuples(labels, labels), suffix=st.sampled_from(["", "-weights"]))
def test_g2_property_scoped_names_are_valid_and_unique_per_namespace_and_name(first, second, suffix):
    name = naming.scoped_name(*first, suffix)
    assert RFC1123_LABEL.match(name) and len(name) <= naming.MAX_NAME
    assert naming.scoped_name(*first, suffix) == name  # stable
    if first != second:
        assert naming.scoped_name(*second, suffix) != name
        assert naming.resource_key(*second) != naming.resource_key(*first)
