"""Shared test helpers: run the CLI in-process and capture exit code and output."""

from __future__ import annotations

from pathlib import Path

import pytest

from nntrain.cli.main import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def run_cli(capsys):
    """Call `nntrain ARGS...` in-process; returns (exit code, stdout, stderr)."""
    def run(*args):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        out, err = capsys.readouterr()
        return code, out, err
    return run
