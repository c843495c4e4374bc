"""The plugin's two kinds of failure, mapped to kubectl's exit codes."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class PluginError(Exception):
    """The command could not do its job (exit code 1); str() is one sentence for the user."""


class UsageError(Exception):
    """Wrong flags, arguments or input files (exit code 2); str() says which and why."""
