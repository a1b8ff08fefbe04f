#!/usr/bin/env python3
"""Set up the project's virtualenv when needed, then run the server, the tests or a benchmark.

    python3 dev.py serve [server flags]   the server with the demo page (python -m gameserver)
    python3 dev.py test [pytest args]     every test
    python3 dev.py bench [args]           the load benchmark (python -m client_demo.bench)

Needs only Python 3.11+ and the network to PyPI the first time. The virtualenv lives in .venv and
is reinstalled whenever pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
COMMANDS = {
    "serve": ["-m", "gameserver"],
    "test": ["-m", "pytest"],
    "bench": ["-m", "client_demo.bench"],
}


def ensure_venv() -> None:
    if sys.version_info < (3, 11):
        sys.exit(f"Python 3.11 or newer is needed; this is {sys.version.split()[0]}")
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    stamp = VENV / f".installed-{digest}"
    if stamp.exists():
        return
    if not PY.exists():
        print(f"dev.py: creating {VENV}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("dev.py: installing gameserver with its test dependencies", file=sys.stderr)
    pip = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-e", f"{ROOT}[test,dev]"], check=True)
    for old in VENV.glob(".installed-*"):
        old.unlink()
    stamp.touch()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    ensure_venv()
    cmd = [str(PY), *COMMANDS[argv[0]], *argv[1:]]
    os.chdir(ROOT)
    if os.name == "nt":
        return subprocess.run(cmd).returncode
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
