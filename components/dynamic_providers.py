"""The names under which stack states hold the project's dynamic providers.

The Pulumi SDK pickles a dynamic resource's provider with dill when the resource is registered and
keeps it in the resource's `__provider` property. dill pickles a class from an importable module by
reference: the state holds only `module` and class name, and `pulumi destroy` (and every later `up`)
imports that name again in the provider host, which runs with the project root as working directory.
So a provider class never leaves a name it was stored under: moving or renaming one keeps the old
`module.name` importable as an alias of the class, and adds the new name here.
(docs/architecture.md, "Dynamic providers in the state"; tests/stack/test_dynamic_providers.py.)
"""

from __future__ import annotations

# (module, class name as stored in states) -> the dynamic resource whose provider it is ("module:Class").
STORED_PROVIDERS: dict[tuple[str, str], str] = {
    ("components.endpoints.router_check", "_Provider"): "components.endpoints.router_check:RouterServiceCheck",
    ("components.ingress_drain", "_Provider"): "components.ingress_drain:IngressDrainGuard",
}


def provider_host_problem(environ: dict[str, str]) -> str | None:
    """Why Pulumi's provider host could not import the stored names here, or None.

    The host runs `python -m pulumi.dynamic` in the project directory and finds `components` only
    because `-m` puts that directory on the module path; `PYTHONSAFEPATH` (Python 3.11+, `-P`) turns
    that off, and every preview, up and destroy of a stack with a dynamic resource would then fail
    with `No module named 'components'` after the program ran."""
    if environ.get("PYTHONSAFEPATH"):
        return (
            f"PYTHONSAFEPATH={environ['PYTHONSAFEPATH']!r} is set: Pulumi's provider host would not find this project's "
            "dynamic providers (router check, ingress drain guard) and preview, up and destroy would fail. "
            "Fix: unset PYTHONSAFEPATH for pulumi commands"
        )
    return None
