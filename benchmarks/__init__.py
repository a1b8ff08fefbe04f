"""The benchmarks: what the server and the bots cost, measured on this machine (docs/benchmarks.md).

The load benchmark and its scenarios, `python -m benchmarks.bench` (bench_rooms, bench_spectators,
bench_attack with the attackers of attack); two builds at once, `python -m benchmarks.pair`;
Colyseus on the same scenario, `python -m benchmarks.peer`; the server's memory over minutes,
`python -m benchmarks.soak`; the least a CPython WebSocket server does per player and tick,
`python -m benchmarks.floor_server`; the server's instructions per player-tick under valgrind,
`python -m benchmarks.instructions`. What they share (processes, /proc, one measured run) is
harness. They run from a checkout of the repository, beside client_demo/, whose bots they start;
nothing outside this package imports it but the tests.

Microbenchmarks (pytest-benchmark; not part of the test run, which collects tests/ only), each
figure per call (divide by the player count for a per-player cost):

    .venv/bin/python -m pytest benchmarks/ --benchmark-columns=min,median,mean,ops
"""
