"""Argument types of `stacks tune` (light: imported whenever the command line is parsed)."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """--workers (and its older name --parallel): 0 or a negative number would run nothing (or be ignored); refuse it by name."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number; Fix: give the number of trials to run at once, e.g. --workers 2"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"{value} trials at once would run nothing; Fix: give 1 or more, e.g. --workers 2"
        )
    return value


def error_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a fraction from 0 to 1; Fix: e.g. --max-error-rate 0.05 for 5 %"
        )
    return value


MAX_TIMEOUT_SECONDS = 3600.0  # an API read that takes an hour has failed; far larger values overflow thread waits


def positive_seconds(text: str) -> float:
    """--timeout: a request timeout of 0 or less would never wait at all."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= MAX_TIMEOUT_SECONDS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of seconds above 0 and at most {MAX_TIMEOUT_SECONDS:g}; Fix: e.g. --timeout 10"
        )
    return value


MAX_HEARTBEAT_SECONDS = 600  # a dead worker's trial waits three beats before another takes it


def heartbeat_seconds(text: str) -> int:
    """--heartbeat: whole seconds (Optuna's heartbeat_interval is an integer), 1 to MAX_HEARTBEAT_SECONDS."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_HEARTBEAT_SECONDS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a whole number of seconds from 1 to {MAX_HEARTBEAT_SECONDS}; Fix: e.g. --heartbeat 20"
        )
    return value
