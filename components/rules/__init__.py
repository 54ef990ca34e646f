"""The rule library: pure Python, no Pulumi import.

Components build objects with it, transforms and the policy pack check and fix with it, the tuning
driver prunes grids with it. One implementation of each guardrail (see GUARDRAILS.md).
"""

from .problems import Change, ConfigError, Problem

__all__ = ["Change", "ConfigError", "Problem"]
