"""Headless bot players for tests and load benchmarks: `python -m client_demo.bots --help`.

run_bots() runs a whole bot run (optionally over several processes) and returns the merged
report; the command line prints it as a summary or as JSON.
"""

from __future__ import annotations

from client_demo.bots.cli import main, run_bots

__all__ = ["main", "run_bots"]
