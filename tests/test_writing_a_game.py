"""docs/writing-a-game.md runs: its code blocks, taken as they are, make a game that its own test
plays tick by tick, that the server serves with `--game coins:Coins`, and that bots play."""

from __future__ import annotations

import importlib
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from server_process import ROOT, ServerProcess

from client_demo.bots import run_bots

DOC = ROOT / "docs" / "writing-a-game.md"


def files_of_the_doc(into: Path) -> dict[str, Path]:
    """The doc's python blocks as files: a block whose first line is `# NAME.py` starts that
    file, the blocks after it continue it."""
    files: dict[str, list[str]] = {}
    current = None
    for block in re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S):
        first = block.splitlines()[0]
        named = re.fullmatch(r"# (\w+\.py)", first)
        if named:
            current = named.group(1)
            files[current] = []
        assert current is not None, "the first block names its file"
        files[current].append(block)
    out = {}
    for name, blocks in files.items():
        path = into / name
        path.write_text("\n".join(blocks))
        out[name] = path
    return out


@pytest.fixture
def coins_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    files = files_of_the_doc(tmp_path)
    assert set(files) == {"coins.py", "test_coins.py"}
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("coins", "test_coins"):
        sys.modules.pop(name, None)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([*paths, str(tmp_path)]))  # for the server
    return tmp_path


def test_the_docs_game_passes_the_docs_own_test(coins_dir: Path) -> None:
    tests = importlib.import_module("test_coins")
    names = [n for n in dir(tests) if n.startswith("test_")]
    assert names == ["test_a_player_takes_the_coin_it_runs_over"]
    for name in names:
        getattr(tests, name)()


def test_the_docs_game_is_deterministic_and_its_rows_fit_its_schema(coins_dir: Path) -> None:
    coins = importlib.import_module("coins")
    from gameserver.testing import Match

    def play() -> list[str]:
        match = Match(coins.Coins, seed=4, options={"coins": 8, "size": 300})
        players = [match.join(n) for n in ("a", "b", "c")]
        hashes = []
        for t in range(150):
            for i, p in enumerate(players):
                p.input(((t // 20 + i) % 3) - 1.0, ((t // 30 + i) % 3) - 1.0)
            match.tick()
            for eid, row in match.game.rows.items():
                assert coins.SCHEMA.check_row(row) is None, eid
            hashes.append(match.game.state_hash())
        game: Any = match.game  # a Coins
        assert game.taken > 0  # coins were taken (and put back elsewhere)
        return hashes

    assert play() == play()


def test_the_server_serves_the_docs_game_and_bots_play_it(coins_dir: Path) -> None:
    with ServerProcess("--game", "coins:Coins") as server:
        assert server.health()["game"] == "coins"
        report = run_bots(server.ws_url, count=6, duration=2.0, verify=2, join_timeout=20)
    assert report["errors"] == 0, report["error_samples"]
    assert report["connected"] == 6 and report["verified_snapshots"] > 0
