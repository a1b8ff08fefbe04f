"""benchmarks/instructions.py, the instruction counter: each part it counts runs the real code
(valgrind itself is not needed here)."""

from __future__ import annotations

import pytest

from benchmarks.instructions import PARTS, workload


@pytest.mark.parametrize("part", PARTS)
def test_each_counted_part_runs_the_real_code(part: str) -> None:
    run = workload(part, players=12, ticks=3)
    run()  # the tick and io parts assert that every input was applied and every snapshot sent
