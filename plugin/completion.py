"""Shell completion scripts generated from an argparse parser by `shtab` (static scripts: no
Python runs at completion time, so completing is instant and needs nothing installed)."""

from __future__ import annotations

import argparse

import shtab

SHELLS = ("bash", "zsh", "fish", "tcsh")


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script of `parser` for `shell` (one of SHELLS)."""
    return shtab.complete(parser, shell=shell)
