"""Command line -> Config -> serve. The only module that reads argv."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from gameserver.config import LOG_LEVELS, Config
from gameserver.game import Game
from gameserver.maps import GameMap, MapError, find_map, load_map


def _names(text: str) -> tuple[str, ...]:
    """A comma-separated list of names (addresses, origins); empty items are left out."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def build_parser() -> argparse.ArgumentParser:
    d = Config()
    p = argparse.ArgumentParser(
        prog="python -m gameserver",
        description="Authoritative multiplayer game server over WebSockets, with its demo page.",
    )
    p.add_argument("--host", default=d.host, help="address to listen on (default %(default)s)")
    p.add_argument(
        "--port", type=int, default=d.port, help="TCP port; 0 picks a free one (default %(default)s)"
    )
    p.add_argument(
        "--tick",
        type=int,
        default=d.tick_rate,
        dest="tick_rate",
        help="simulation ticks per second, 1..120 (default %(default)s)",
    )
    p.add_argument(
        "--snapshot-rate",
        type=int,
        default=None,
        help="snapshots per second; must divide the tick rate (default: the tick rate)",
    )
    p.add_argument(
        "--checksum-every",
        type=float,
        default=d.checksum_every,
        metavar="SECONDS",
        help="a snapshot carries the checksum of what its client holds every SECONDS (rounded to "
        "whole snapshots), so that a client finds a copy that went wrong and asks for a full "
        "snapshot; 0: never (default %(default)s)",
    )
    p.add_argument(
        "--max-players",
        type=int,
        default=d.max_players,
        help="players admitted at once; also sets the connection cap (default %(default)s)",
    )
    p.add_argument("--log-level", default=d.log_level, choices=LOG_LEVELS, help="(default %(default)s)")
    p.add_argument(
        "--permessage-deflate",
        action="store_true",
        help="accept the WebSocket compression that browsers offer (costs CPU on every send)",
    )
    p.add_argument(
        "--max-lag",
        type=float,
        default=d.max_lag,
        help="seconds a client may go without acknowledging snapshots before it is dropped "
        "(default %(default)s)",
    )
    p.add_argument(
        "--send-timeout",
        type=float,
        default=d.send_timeout,
        help="seconds one send may block before the connection is cut (default %(default)s)",
    )
    p.add_argument(
        "--hello-timeout",
        type=float,
        default=d.hello_timeout,
        help="seconds a new connection has to say hello (default %(default)s)",
    )
    p.add_argument(
        "--game",
        default=d.game,
        help="the game every room plays: arena or ball (built in), the name of an entry point of the "
        "group gameserver.games, or package.module:Class, a subclass of gameserver.game.Game "
        "(default %(default)s)",
    )
    p.add_argument(
        "--map",
        default=d.map,
        help="the default map (quick play and HELLO without a room): a name in assets/maps/ or a "
        ".tmj path; 'none' for an empty 2000x2000 world where everyone sees everyone (default "
        "%(default)s). Every map in assets/maps/ can be chosen when a room is created",
    )
    p.add_argument(
        "--max-rooms", type=int, default=d.max_rooms, help="rooms at once, 1..100000 (default %(default)s)"
    )
    p.add_argument(
        "--room-size",
        type=int,
        default=d.room_size,
        help="players per room; 0: the game's own size (ball 10), else the map's max_players property "
        "(yard 8, arena 16), or "
        "--max-players on a map without one, such as none (default %(default)s)",
    )
    p.add_argument(
        "--room-idle",
        type=float,
        default=d.room_idle,
        help="seconds a room with no players and no reserved seats is kept (default %(default)s)",
    )
    p.add_argument(
        "--seat-ttl",
        type=float,
        default=d.seat_ttl,
        help="seconds a seat reserved by matchmaking is held for its HELLO (default %(default)s)",
    )
    p.add_argument(
        "--creates-per-minute",
        type=int,
        default=d.creates_per_minute,
        help="rooms one client address may create a minute over POST /matchmake/create (default %(default)s)",
    )
    p.add_argument(
        "--seats-per-address",
        type=int,
        default=d.seats_per_address,
        help="seats one client address may hold at once, waiting for their HELLO (default %(default)s)",
    )
    p.add_argument(
        "--reconnect-grace",
        type=float,
        default=d.reconnect_grace,
        help="seconds a player whose connection dropped is kept for a resume with its session "
        "token; 0: removed at once (default %(default)s)",
    )
    p.add_argument(
        "--spectators-per-room",
        type=int,
        default=d.spectators_per_room,
        help="spectators one room takes, apart from its players; 0: no spectators (default %(default)s)",
    )
    p.add_argument(
        "--max-spectators",
        type=int,
        default=d.max_spectators,
        help="spectators across all rooms, apart from --max-players (default %(default)s)",
    )
    p.add_argument(
        "--connections-per-address",
        type=int,
        default=d.connections_per_address,
        help="WebSockets one client address may hold at once; 0: no cap (default %(default)s)",
    )
    p.add_argument(
        "--hellos-per-address",
        type=int,
        default=d.hellos_per_address,
        help="WebSockets of one client address that have not said HELLO yet; 0: no cap (default %(default)s)",
    )
    p.add_argument(
        "--http-per-address",
        type=int,
        default=d.http_per_address,
        help="HTTP connections one client address may hold at once; 0: no cap (default %(default)s)",
    )
    p.add_argument(
        "--unlimited-addresses",
        type=_names,
        default=d.unlimited_addresses,
        help="client addresses the per-address caps leave alone, comma-separated: a reverse proxy "
        "on this machine speaks for many clients (default %(default)s; '' for none)",
    )
    p.add_argument(
        "--http-timeout",
        type=float,
        default=d.http_timeout,
        help="seconds one HTTP request may take, from its first byte (or the wait for it on a "
        "kept-alive connection) to the end of its answer (default %(default)s)",
    )
    p.add_argument(
        "--allowed-origins",
        type=_names,
        default=d.allowed_origins,
        help="Origins whose pages may open a WebSocket, comma-separated (e.g. "
        "https://game.example.com), or '*' for any; by default the server's own pages and "
        "clients that send no Origin",
    )
    p.add_argument(
        "--send-buffer",
        type=int,
        default=d.send_buffer,
        help="bytes the kernel may queue for one WebSocket (SO_SNDBUF; Linux doubles it); a client "
        "that leaves it full for --send-timeout is cut (default %(default)s)",
    )
    p.add_argument(
        "--redis",
        metavar="URL",
        default=d.redis,
        help="share one directory of rooms with the other processes that name this Redis "
        "(redis://host:port/db): matchmaking on any of them seats players on all of them "
        "(docs/deploy.md, 'Many processes'); by default this process alone",
    )
    p.add_argument(
        "--public-url",
        default=d.public_url,
        help="with --redis: the WebSocket URL clients reach this process at (e.g. "
        "wss://eu1.example.com/ws), or 'agones': the address and port Agones gave this GameServer "
        "(ws://); by default ws:// and the address it listens on",
    )
    p.add_argument(
        "--redis-prefix",
        default=d.redis_prefix,
        help="with --redis: the prefix of its keys (default %(default)s)",
    )
    p.add_argument(
        "--cluster-ttl",
        type=float,
        default=d.cluster_ttl,
        help="with --redis: seconds a process and its rooms stay listed after its last heartbeat; "
        "it beats five times in that time (default %(default)s)",
    )
    p.add_argument(
        "--record",
        metavar="DIR",
        type=Path,
        default=d.record,
        help="record every room's match to DIR/<room>.<unix time>.gsrec, for `python -m "
        "gameserver.replay`; the directory is made if it is missing",
    )
    p.add_argument(
        "--record-max-mb",
        type=float,
        default=d.record_max_mb,
        help="with --record: megabytes one recording may reach; it stops there (default %(default)s)",
    )
    p.add_argument(
        "--agones",
        action="store_true",
        help="run as an Agones GameServer: Ready once listening, Health every --agones-health "
        "seconds, the counters rooms and players, Shutdown after the goodbye, to the SDK "
        "sidecar at 127.0.0.1:$AGONES_SDK_HTTP_PORT (docs/deploy.md, 'Agones')",
    )
    p.add_argument(
        "--agones-health",
        type=float,
        default=d.agones_health,
        help="with --agones: seconds between Health calls, and counter updates (default %(default)s)",
    )
    p.add_argument(
        "--drain-timeout",
        type=float,
        default=d.drain_timeout,
        help="seconds SIGTERM lets the matches play on before the goodbye, taking no new player "
        "(a cluster's directory sends none here from then on); the server stops sooner when its "
        "last player leaves, and at once on a second signal or Ctrl-C (default %(default)s: at once)",
    )
    p.add_argument(
        "--seed", type=int, default=d.seed, help="seed of the world's randomness (default %(default)s)"
    )
    return p


def config_from_args(argv: Sequence[str] | None = None) -> Config:
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        port = os.environ.get("AGONES_SDK_HTTP_PORT")  # set by Agones for the game server
        if port:
            ns.agones_port = int(port)
        return Config(**vars(ns))
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))  # exits with code 2 and the usage line


def main(argv: Sequence[str] | None = None) -> int:
    config = config_from_args(argv)
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # eventlet warns on import that it is in maintenance mode; docs/architecture.md says why
    # it is still used and how it is kept to the runtime layer.
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    from gameserver.games import GameNotFound, load_game
    from gameserver.server import ListenError, serve  # the runtime loads only past the argument checks

    try:
        game_type = load_game(config.game)
        maps, default_map = load_maps(config, game_type)
    except (MapError, GameNotFound) as exc:
        print(f"python -m gameserver: error: {exc}", file=sys.stderr)
        return 2
    try:
        return serve(config, maps, default_map, game_type)
    except ListenError as exc:  # a port in use, like a bad flag: one line and code 2
        print(f"python -m gameserver: error: {exc}", file=sys.stderr)
        return 2


def load_game_map(config: Config, game_type: type[Game]) -> GameMap | None:
    """The map the config names, loaded and checked before anything listens."""
    if config.map == "none":
        return None
    path = find_map(config.map, config.assets_dir / "maps")
    return load_map(path, clearance=game_type.map_clearance)


def load_maps(config: Config, game_type: type[Game] | None = None) -> tuple[dict[str, GameMap | None], str]:
    """Every map a room may be created on, by name, and the default map's name: each map of
    assets/maps/, the empty world `none`, and `--map` (which may be a path elsewhere). All are
    loaded and checked before anything listens. A game that uses no maps gets `none` only (and
    a --map other than the default is an error)."""
    if game_type is None:
        from gameserver.games import DEFAULT, load_game

        game_type = load_game(DEFAULT)
    if not game_type.uses_maps:
        if config.map not in ("none", Config().map):
            raise MapError(f"--map {config.map}", f"the game {game_type.name} uses no maps")
        return {"none": None}, "none"
    default = load_game_map(config, game_type)
    maps: dict[str, GameMap | None] = {"none": None}
    for path in sorted((config.assets_dir / "maps").glob("*.tmj")):
        if default is None or path.stem != default.name:  # --map's file is read once
            maps[path.stem] = load_map(path, clearance=game_type.map_clearance)
    if default is None:
        return maps, "none"
    maps[default.name] = default
    return maps, default.name
