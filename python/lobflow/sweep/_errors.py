"""The sweep's own errors: a config that cannot run, and a sweep that cannot start or finish."""

from __future__ import annotations

from lobflow.errors import LobflowError


class ConfigError(ValueError):
    """A sweep config that cannot be run; the message names the file, table and key."""


class SweepError(LobflowError):
    """A sweep that cannot start or go on: a missing dependency, an output folder in use."""
