"""The server's settings as one frozen value, validated when it is made.

Only gameserver.cli reads argv and the environment; everything else is handed a Config.
"""

from __future__ import annotations

from pathlib import Path

import attr

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
LOG_LEVELS = ("debug", "info", "warning", "error")


# Config fields whose command-line flag has another name.
FLAG_NAMES = {"tick_rate": "tick"}


def _between(lo: float, hi: float):  # type: ignore[no-untyped-def]
    def check(inst: object, attribute: attr.Attribute, value: float) -> None:  # type: ignore[type-arg]
        if not lo <= value <= hi:
            flag = "--" + FLAG_NAMES.get(attribute.name, attribute.name).replace("_", "-")
            raise ValueError(f"{flag} must be between {lo:g} and {hi:g}, got {value:g}")

    return check


@attr.s(auto_attribs=True, frozen=True, slots=True)
class Config:
    host: str = "127.0.0.1"
    port: int = attr.ib(default=8000, validator=_between(0, 65535))
    tick_rate: int = attr.ib(default=30, validator=_between(1, 120))
    snapshot_rate: int | None = None  # None: every tick
    # seconds between the snapshots that carry a checksum of what their client holds (0: none)
    checksum_every: float = attr.ib(default=1.0, validator=_between(0, 3600))
    max_players: int = attr.ib(default=1000, validator=_between(1, 100_000))
    log_level: str = attr.ib(default="info", validator=attr.validators.in_(LOG_LEVELS))
    permessage_deflate: bool = False
    max_lag: float = attr.ib(default=5.0, validator=_between(0.1, 600))  # seconds
    send_timeout: float = attr.ib(default=2.0, validator=_between(0.05, 60))  # seconds
    # What one client address may hold at once (0: no cap); the unlimited addresses are those a
    # reverse proxy on this machine and local tools connect from (they hold for many clients).
    connections_per_address: int = attr.ib(default=32, validator=_between(0, 1_000_000))
    hellos_per_address: int = attr.ib(default=8, validator=_between(0, 1_000_000))
    http_per_address: int = attr.ib(default=16, validator=_between(0, 1_000_000))
    unlimited_addresses: tuple[str, ...] = ("127.0.0.1", "::1")
    # seconds an HTTP request may take, from its first byte (or the wait for it on a kept-alive
    # connection) to the end of its answer
    http_timeout: float = attr.ib(default=5.0, validator=_between(0.1, 600))
    # the Origins whose pages may open a WebSocket; empty: the server's own (Origin's host is the
    # Host header) and clients that send no Origin; "*": any
    allowed_origins: tuple[str, ...] = ()
    # the kernel's send buffer per WebSocket (SO_SNDBUF; Linux doubles it for its bookkeeping)
    send_buffer: int = attr.ib(default=65536, validator=_between(4096, 16 << 20))  # bytes
    hello_timeout: float = attr.ib(default=5.0, validator=_between(0.05, 600))  # seconds
    seed: int = 0
    # the game played in every room: a built-in game's name, an entry point of the group
    # gameserver.games, or package.module:Class (gameserver.games.load_game)
    game: str = "arena"
    # the default map (quick play): a name in assets/maps/ (or a path to a .tmj); "none": an
    # empty 2000x2000 world
    map: str = "yard"
    max_rooms: int = attr.ib(default=500, validator=_between(1, 100_000))
    room_size: int = attr.ib(default=0, validator=_between(0, 100_000))  # 0: the map's
    room_idle: float = attr.ib(default=30.0, validator=_between(0, 86_400))  # seconds
    seat_ttl: float = attr.ib(default=15.0, validator=_between(0.1, 3600))  # seconds
    creates_per_minute: int = attr.ib(default=10, validator=_between(1, 1_000_000))
    seats_per_address: int = attr.ib(default=16, validator=_between(1, 100_000))
    reconnect_grace: float = attr.ib(default=20.0, validator=_between(0, 3600))  # seconds
    spectators_per_room: int = attr.ib(default=32, validator=_between(0, 100_000))
    max_spectators: int = attr.ib(default=256, validator=_between(0, 100_000))
    # Many processes (gameserver.cluster): the Redis that holds their shared directory (None: this
    # process alone, with its own); the WebSocket URL clients reach this process at ("": ws://
    # and the address it listens on); the prefix of its keys; the seconds a process and its rooms
    # stay listed after its last beat (it beats BEATS_PER_TTL times in that time)
    redis: str | None = None
    public_url: str = ""
    redis_prefix: str = "gameserver:"
    cluster_ttl: float = attr.ib(default=5.0, validator=_between(1, 60))
    # Agones (gameserver.agones): tell the SDK sidecar on 127.0.0.1:agones_port (cli: from
    # AGONES_SDK_HTTP_PORT) Ready, Health every agones_health seconds, the counters, Shutdown
    agones: bool = False
    agones_port: int = attr.ib(default=9358, validator=_between(1, 65535))
    agones_health: float = attr.ib(default=2.0, validator=_between(0.1, 60))
    # Recordings (gameserver.recording): a file per room in this directory (None: none), each
    # stopped at record_max_mb megabytes
    record: Path | None = None
    record_max_mb: float = attr.ib(default=64.0, validator=_between(0.001, 1_000_000))
    # seconds SIGTERM lets the matches play on, taking no one new, before the goodbye (0: none)
    drain_timeout: float = attr.ib(default=0.0, validator=_between(0, 86_400))
    # where the demo page really is: in dev.py's compiled build, client_demo/ holds links to it
    static_dir: Path = (PROJECT_DIR / "client_demo" / "index.html").resolve().parent
    assets_dir: Path = PROJECT_DIR / "assets"

    def __attrs_post_init__(self) -> None:
        rate = self.effective_snapshot_rate
        if not 1 <= rate <= self.tick_rate or self.tick_rate % rate:
            raise ValueError(f"--snapshot-rate must divide the tick rate {self.tick_rate} (got {rate})")

    @property
    def effective_snapshot_rate(self) -> int:
        return self.tick_rate if self.snapshot_rate is None else self.snapshot_rate

    @property
    def checksum_every_ticks(self) -> int:
        """checksum_every in ticks: a whole number of snapshots, at least one (0: none)."""
        if self.checksum_every == 0:
            return 0
        every = self.tick_rate // self.effective_snapshot_rate
        return max(1, round(self.checksum_every * self.tick_rate / every)) * every

    @property
    def connection_cap(self) -> int:
        """The WebSockets held at once: players, spectators, and room for refusals."""
        return self.max_players + self.max_spectators + 64
