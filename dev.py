#!/usr/bin/env python3
"""Set up the project's virtualenv when needed, then run the server, the tests or a benchmark.

    python3 dev.py serve [server flags]   the server with the demo page (python -m gameserver)
    python3 dev.py cluster [--processes K] [-- server flags]
                                          K server processes and a Redis as one cluster
                                          (python -m gameserver.localcluster)
    python3 dev.py test [pytest args]     the fast tier of the tests
    python3 dev.py test --all [args]      every test, the slow tier too (what .ci/run runs)
    python3 dev.py bench [args]           the load benchmark (python -m benchmarks.bench)

    python3 dev.py --compiled serve|test|bench ...   the same on the compiled build

test passes its arguments to pytest: -m slow runs the slow tier alone, and naming files or tests
runs them whatever their tier (tests/conftest.py lists the slow tier and says why).

Needs only Python 3.11+ and the network to PyPI the first time. The virtualenv lives in .venv and
is reinstalled whenever pyproject.toml changes. serve installs the server's own dependencies
alone; test and bench add every optional group of pyproject.toml (the test and dev tools), and
--compiled adds mypyc. A virtualenv made for serve gets the rest when test or bench first runs.

The compiled build is the same source compiled by mypyc (it needs a C compiler and the Python
headers): the modules in COMPILED_MODULES become C extensions, the rest stays Python. It is
built in build/compiled/, never next to the source (an extension module there would shadow
every later edit of its .py), and rebuilt whenever a source file changes. It runs with that
directory first on sys.path, the project's next, and without the current directory
(PYTHONSAFEPATH), so that the tests' and the benchmark's subprocesses run it too.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
COMPILED = ROOT / "build" / "compiled"
# The hot path: the wire format, the world, replication, the room, the tick and the transport;
# and the bots' loop with the behaviours and counters it calls every tick, so that the bots still
# cost less than the server they measure.
# attrs classes are declared with attr.s everywhere: mypyc makes native classes of attr.s ones, and
# a plain Python class of one declared with attrs.define. Of a class that attrs makes anew (slots,
# which frozen=True needs) mypyc keeps only attrs' __init__, not its __eq__, __hash__, __repr__ or
# frozen __setattr__: the compiled modules' values are frozen another way (gameserver.world.Rules
# says how) and tests/test_attrs_parity.py holds both builds to the same behaviour. messages,
# collision and combat stay Python: their many frozen slotted classes rely on those methods.
SERVER_MODULES = (
    "grid",
    "masking",
    "codec",
    "world",
    "replication",
    "room",
    "tick",
    "wsframes",
    "wsconnection",
    "transport",
)
COMPILED_MODULES = (
    *(f"gameserver/{name}.py" for name in SERVER_MODULES),
    *(
        f"client_demo/bots/{name}.py"
        for name in ("runner", "bot", "behaviours", "metrics", "tracker", "wire")
    ),
)
# the packages of those modules, copied whole into the build, and the games, which import them
# (a package found in the build hides its subpackages in the source tree)
COPIED = sorted({str(Path(module).parent) for module in COMPILED_MODULES} | {"gameserver/games"})
COMMANDS = {
    "serve": ["-m", "gameserver"],
    "cluster": ["-m", "gameserver.localcluster"],
    "test": ["-m", "pytest"],
    "bench": ["-m", "benchmarks.bench"],
}
# The optional-dependency groups of pyproject.toml each command installs: the server needs none
GROUPS = {
    "serve": (),
    "cluster": (),
    "test": ("test", "compile", "dev"),
    "bench": ("test", "compile", "dev"),
}
COMPILE_GROUP = "compile"  # mypyc, for --compiled


def ensure_venv(groups: set[str]) -> None:
    """Install the project into .venv with the optional-dependency groups `groups`, unless this
    pyproject.toml was installed there already with those groups or more.

    The stamp .venv/.installed-<hash of pyproject.toml> lists the groups installed there; the
    groups wanted are installed together with those, so that serve after test keeps the tools."""
    if sys.version_info < (3, 11):  # noqa: UP036 (dev.py runs on whichever python3 there is)
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    stamp = VENV / f".installed-{digest}"
    installed = set(stamp.read_text().split()) if stamp.exists() else set()
    if stamp.exists() and groups <= installed:
        return
    groups = groups | installed
    if not PY.exists():
        print(f"dev.py: creating {VENV}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    extras = f"[{','.join(sorted(groups))}]" if groups else ""
    what = f"with the groups {', '.join(sorted(groups))}" if groups else "with its runtime dependencies only"
    print(f"dev.py: installing gameserver {what}", file=sys.stderr)
    pip = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-e", f"{ROOT}{extras}"], check=True)
    for old in VENV.glob(".installed-*"):
        old.unlink()
    stamp.write_text(" ".join(sorted(groups)) + "\n")


def ensure_compiled() -> None:
    """Build the compiled tree in build/compiled/ unless it is up to date with the source.

    The tree: gameserver/ and client_demo/bots/ copied (their compiled modules beside them), every
    other entry of client_demo/ and assets/ linked to the source tree's.
    """
    sources = sorted(path for package in COPIED for path in (ROOT / package).glob("*.py"))
    h = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    h.update(str(PY.resolve()).encode())  # another interpreter needs its own build
    for path in sources:
        h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    stamp = COMPILED / f".built-{h.hexdigest()[:16]}"
    if stamp.exists():
        return
    print(f"dev.py: compiling {' '.join(COMPILED_MODULES)} with mypyc into {COMPILED}", file=sys.stderr)
    shutil.rmtree(COMPILED, ignore_errors=True)
    for package in COPIED:
        (COMPILED / package).mkdir(parents=True)
    for path in sources:
        shutil.copy2(path, COMPILED / path.relative_to(ROOT))
    for entry in (ROOT / "client_demo").iterdir():
        if entry.name not in ("bots", "__pycache__"):
            (COMPILED / "client_demo" / entry.name).symlink_to(entry)
    (COMPILED / "assets").symlink_to(ROOT / "assets")
    shutil.copy2(ROOT / "pyproject.toml", COMPILED / "pyproject.toml")  # mypy's settings
    log = COMPILED / "mypyc.log"
    with log.open("w") as out:
        mypyc = [str(PY), "-m", "mypyc", *COMPILED_MODULES]
        done = subprocess.run(mypyc, cwd=COMPILED, stdout=out, stderr=out)
    if done.returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-15:])
        sys.exit(f"{tail}dev.py: mypyc failed (a C compiler and the Python headers are needed), see {log}")
    stamp.touch()


def main(argv: list[str]) -> int:
    compiled = bool(argv) and argv[0] == "--compiled"
    if compiled:
        argv = argv[1:]
    if not argv or argv[0] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    ensure_venv({*GROUPS[argv[0]], *([COMPILE_GROUP] if compiled else [])})
    cmd = [str(PY), *COMMANDS[argv[0]], *argv[1:]]
    os.chdir(ROOT)
    if compiled:
        ensure_compiled()
        # The compiled tree before the source tree (tests/ and benchmarks/ are imported from it)
        path = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join([str(COMPILED), str(ROOT), *([path] if path else [])])
        os.environ["PYTHONSAFEPATH"] = "1"
        os.environ["GAMESERVER_BUILD"] = "compiled"  # the tests check that it is what runs
    if os.name == "nt":
        return subprocess.run(cmd).returncode
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
