"""Options more than one command takes, declared once (light: imported whenever the command line is parsed)."""

from __future__ import annotations

import argparse

CRD_DIR_HELP = "directory of upstream CRD files (default: $LLM_SERVING_CRD_DIR, then the cache of `crds fetch`)"
POLICY_CONFIG_HELP = "policy pack config JSON (as for `pulumi preview --policy-pack-config`)"
STACK_HELP = "stack name: reads Pulumi.<stack>.yaml (default: dev)"
DEFAULT_KUBERNETES_VERSION = "1.33"


def kubernetes_version(text: str) -> str:
    """--kubernetes-version: one kubernetes-validate has schemas for (imported only when the option is given)."""
    from ..schemas import supported_kubernetes_version

    try:
        return supported_kubernetes_version(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_kubernetes_version(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kubernetes-version",
        type=kubernetes_version,
        default=DEFAULT_KUBERNETES_VERSION,
        help=f"schema version for core objects (default: {DEFAULT_KUBERNETES_VERSION})",
    )
