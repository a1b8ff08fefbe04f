"""Many headless players in one process: one epoll loop, raw non-blocking sockets (Runner).

A Runner holds bots `first`..`first + count - 1` of a run (client_demo/bots/bot.py's Bot: each
one player's connections and protocol) and drives them all from one select.epoll loop
(run_until), without threads. Each pass of the loop:
- connects the bots waiting to, at most MAX_CONNECTING of them connecting at once (a seat's
  request, a TCP connection or a WebSocket handshake), the players first: spectators wait until
  every player of the process has joined or given up (a quick spectate needs a player in a
  room), which is looked at every SETTLE_POLL seconds;
- fires the timers due within TIMER_SLACK: each playing bot's PING every PING_EVERY seconds,
  and the reconnect of a bot that comes back (churn, host, a quick spectate tried again);
- sends the inputs due (run_ticks): every bot ticks at a fixed phase of the tick period, by its
  index in the whole run, so that a process's inputs are spread over the period; one wheel of
  the bots in phase order, walked by a cursor, instead of a timer each. The first WELCOME gives
  the period, the interpolation delay in ticks and the weapon range;
- waits on epoll until the next of those is due, and hands each ready socket to its bot
  (on_writable, on_readable) or to the callback it was registered with (watch_fd).

Measurement: start_window and end_window bound the window that is reported (each bot's Stats,
the process's CPU time, and the arrival-interval histograms its bots fill as they read).
shut_down lets the resumes in flight finish, then closes every connection with a closing
handshake, within a bounded time. report() gives this process's figures and each of its bots'
report (Bot.report), for metrics.merge() to merge with the other processes'.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
import select
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from client_demo.bots import rooms
from client_demo.bots.behaviours import CHURNING, DROP_EVERY, FOLLOW_EVERY, INTERP_DELAY
from client_demo.bots.bot import Bot
from client_demo.bots.metrics import HIST_MAX, Stats
from gameserver.messages import Welcome

SETTLE_POLL = 0.05  # seconds between checks whether a process's players have all joined
PING_EVERY = 1.0
MAX_CONNECTING = 64  # handshakes in flight at once
TIMER_SLACK = 0.001  # seconds a timer may fire early


class Runner:
    """Bots `first`..`first + count - 1` of a run, on one epoll loop in this process."""

    def __init__(
        self,
        url: str,
        count: int,
        behaviour: str,
        verify: int,
        first: int = 0,
        total: int | None = None,
        seed: int = 1,
    ) -> None:
        u = urlsplit(url)
        if u.scheme != "ws" or not u.hostname:
            raise ValueError(f"expected a ws:// URL, got {url!r}")
        self.host = u.hostname
        self.port = u.port or 80
        self.path = u.path or "/"
        self.total = total if total is not None else count
        # every player reserves its seat with POST /matchmake/quick before each connection and
        # connects where the answer says (a cluster's processes); else quick play by HELLO
        self.matchmake = False
        self.period = 1 / 30  # replaced by the welcome's tick rate
        self.epoll = select.epoll()
        self.by_fd: dict[int, Bot] = {}
        self.timers: list[tuple[float, int, int, int, str]] = []  # (at, seq, bot index, generation, what)
        self._timer_seq = 0
        # Inputs: every bot's tick comes at a fixed phase of the tick period, so instead of a
        # timer each, one wheel of the bots in phase order, walked by a cursor (set up by the
        # first welcome, which gives the period).
        self.wheel: list[Bot] = []
        self.phases: list[float] = []  # each wheel bot's offset into the period, seconds
        self.cursor = 0  # the wheel's next bot
        self.cycle_start = 0.0  # when the current period began (monotonic)
        self.bots: list[Bot] = []
        for i in range(first, first + count):
            b = behaviour
            rng = random.Random(seed * 1_000_003 + i)
            self.bots.append(Bot(self, i, b, verify=i - first < verify, rng=rng))
        self.by_index = {b.index: b for b in self.bots}
        # every bot of the run, in every process: its name -> its index (the isolation check)
        self.index_of = {rooms.bot_name(i): i for i in range(self.total)}
        self.to_connect = list(self.bots)
        self.connecting = 0
        self.playing = 0
        self.stopping = False
        self.measuring = False
        self.window: tuple[float, float] | None = None
        self.cpu_at_start = 0.0
        self.cpu = 0.0
        self.intervals = [0] * HIST_MAX  # between the loop's reads of two snapshots
        self.intervals_kernel = [0] * HIST_MAX  # between their kernel receive timestamps
        self.intervals_stamped = 0  # loop intervals of the bots whose reads carry timestamps
        self.welcome: Welcome | None = None
        self.interp_ticks = 3  # INTERP_DELAY in ticks, from the welcome
        self.weapon_range = 900.0  # from the welcome's rules
        self.extra_fds: dict[int, Callable[[], None]] = {}
        self.churn_stay = (1.0, 3.0)  # seconds a churn bot stays before leaving
        self.drop_every = DROP_EVERY  # seconds a dropping bot plays before each cut
        self.follow_every = FOLLOW_EVERY  # seconds a spectator follows one player
        # Spectators connect once the players of this process have joined (a quick spectate
        # needs a player in a room); checked every SETTLE_POLL seconds until it is so.
        self.players_settled = False
        self.settle_check_at = 0.0
        self.rbuf = bytearray(1 << 20)
        self.rview = memoryview(self.rbuf)
        self.rbufs = [self.rbuf]  # recvmsg_into's list of buffers, made once

    # --- the loop's plumbing -------------------------------------------------------------

    def watch(self, bot: Bot, events: int, modify: bool = False) -> None:
        if modify:
            self.epoll.modify(bot.fd, events)
        else:
            self.epoll.register(bot.fd, events)
            self.by_fd[bot.fd] = bot

    def unwatch(self, bot: Bot) -> None:
        if self.by_fd.pop(bot.fd, None) is not None:
            try:
                self.epoll.unregister(bot.fd)
            except OSError:
                pass

    def watch_fd(self, fd: int, callback: Callable[[], None]) -> None:
        self.epoll.register(fd, select.EPOLLIN)
        self.extra_fds[fd] = callback

    def schedule(self, at: float, bot: Bot, what: str) -> None:
        self._timer_seq += 1
        heapq.heappush(self.timers, (at, self._timer_seq, bot.index, bot.generation, what))

    def on_joined(self, bot: Bot, welcome: Welcome) -> None:
        if self.welcome is None:
            self.welcome = welcome
            self.period = 1.0 / welcome.tick_rate
            self.interp_ticks = round(INTERP_DELAY * welcome.tick_rate)
            self.weapon_range = float(welcome.rules.get("weapon_range", self.weapon_range))
            # Spread the bots over the tick period by their index in the whole run.
            self.wheel = sorted(self.bots, key=lambda b: b.index % self.total)
            self.phases = [(b.index % self.total) / self.total * self.period for b in self.wheel]
        now = time.monotonic()
        self.schedule(now + bot.rng.uniform(0.0, PING_EVERY), bot, "ping")

    def run_ticks(self, now: float) -> float:
        """Send the input of every playing bot whose phase came (within TIMER_SLACK) since the
        last call, each at most once; returns when the next one is due.

        A bot that joins ticks first at its next phase. A loop that fell behind by more than a
        period skips the ticks it missed instead of sending them in a burst."""
        wheel, phases, period = self.wheel, self.phases, self.period
        n = len(wheel)
        due = self.cycle_start + (phases[self.cursor] if self.cursor < n else period + phases[0])
        if now - due > period:  # the first call, or a loop a period behind: restart at now
            self.cycle_start = now - (now % period)
            self.cursor = bisect.bisect_right(phases, now - self.cycle_start)
        soon = now + TIMER_SLACK
        cursor, start = self.cursor, self.cycle_start
        for _ in range(n):
            if cursor == n:
                cursor = 0
                start += period
            if start + phases[cursor] > soon:
                break
            bot = wheel[cursor]
            cursor += 1
            if bot.state == "playing":
                bot.on_tick(now)
        self.cursor, self.cycle_start = cursor, start
        if cursor == n:
            return start + period + phases[0]
        return start + phases[cursor]

    # --- measurement ---------------------------------------------------------------------

    def start_window(self) -> None:
        for b in self.bots:
            b.stats = Stats()
            b.kills_at_start, b.deaths_at_start = b.kills, b.deaths
            b.room_mark = 0
        self.intervals = [0] * HIST_MAX
        self.intervals_kernel = [0] * HIST_MAX
        self.intervals_stamped = 0
        self.cpu_at_start = time.process_time()
        self.measuring = True

    def end_window(self) -> None:
        self.measuring = False
        self.cpu = time.process_time() - self.cpu_at_start
        for b in self.bots:
            b.connected_at_end = b.state == "playing"
            if b.state in ("playing", "closing"):
                b.count_room_snapshots()

    # --- running ---------------------------------------------------------------------------

    def run_until(self, deadline: float, until: Callable[[], bool] | None = None) -> bool:
        """Run the loop until `deadline`, or until `until()` is true; returns until's verdict."""
        epoll = self.epoll
        by_fd = self.by_fd
        timers = self.timers
        while True:
            now = time.monotonic()
            if until is not None and until():
                return True
            if now >= deadline:
                return False
            gated = False
            while self.to_connect and self.connecting < MAX_CONNECTING and not self.stopping:
                if self.to_connect[0].behaviour == "spectate" and not self.settled(now):
                    # the players first, the spectators after them
                    players = [b for b in self.to_connect if b.behaviour != "spectate"]
                    if not players:
                        gated = True
                        break
                    self.to_connect = players + [b for b in self.to_connect if b.behaviour == "spectate"]
                self.connecting += 1
                self.to_connect.pop(0).connect()
            # Timers due within TIMER_SLACK: epoll waits in whole milliseconds anyway, and
            # one wake-up for several bots costs less than one each.
            soon = now + TIMER_SLACK
            while timers and timers[0][0] <= soon:
                at, _, idx, gen, what = heapq.heappop(timers)
                bot = self.by_index[idx]
                if what == "reconnect":
                    if bot.generation == gen and bot.state == "done" and not self.stopping:
                        self.to_connect.append(bot)
                    continue
                if bot.generation != gen or bot.state != "playing":
                    continue
                bot.ping(now)
                self._timer_seq += 1
                heapq.heappush(timers, (at + PING_EVERY, self._timer_seq, idx, gen, "ping"))
            timeout = deadline - now
            if self.playing:
                timeout = min(timeout, self.run_ticks(now) - now)
            if timers:
                timeout = min(timeout, timers[0][0] - now)
            if self.to_connect and self.connecting < MAX_CONNECTING:
                timeout = min(timeout, SETTLE_POLL) if gated else 0.0
            for fd, ev in epoll.poll(max(0.0, timeout)):
                owner = by_fd.get(fd)
                if owner is None:
                    cb = self.extra_fds.get(fd)
                    if cb is not None:
                        cb()
                    continue
                if ev & select.EPOLLOUT:
                    owner.on_writable()
                elif ev & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                    owner.on_readable()

    def all_joined(self) -> bool:
        """Every bot has been welcomed at least once, or has given up (a failed bot that does
        not churn, nor waits to try a quick spectate again)."""
        return all(
            b.joined_once or (b.state == "done" and b.behaviour not in CHURNING and not b.retrying)
            for b in self.bots
        )

    def settled(self, now: float) -> bool:
        """Whether every player (every bot but the spectators) of this process has joined or
        given up, so that spectators may come; looked at every SETTLE_POLL seconds."""
        if not self.players_settled and now >= self.settle_check_at:
            self.settle_check_at = now + SETTLE_POLL
            self.players_settled = all(
                b.joined_once or b.state == "done" for b in self.bots if b.behaviour != "spectate"
            )
        return self.players_settled

    def shut_down(self, timeout: float = 3.0) -> None:
        """Close every connection with a closing handshake, bounded by `timeout`."""
        self.stopping = True
        self.to_connect.clear()
        # Resumes in flight finish first: one cut off here could be counted by the server and
        # not by its bot. No more cuts after them.
        for b in self.bots:
            b.drop_at = math.inf
        self.run_until(time.monotonic() + timeout, lambda: not any(b.dropped_at for b in self.bots))
        for b in self.bots:
            if b.state == "playing":
                b.leave()
            elif b.sock is not None and b.state != "closing":
                b.we_closed = True
                b.drop()
        self.run_until(time.monotonic() + timeout, lambda: not self.by_fd)
        for b in self.bots:
            if b.sock is not None:
                b.count_error("closed", "no close frame from the server in time")
                b.drop()

    def report(self) -> dict[str, Any]:
        w = self.window[1] - self.window[0] if self.window else 0.0
        return {
            "window_s": w,
            "cpu_s": self.cpu,
            "intervals": self.intervals,
            "intervals_kernel": self.intervals_kernel,
            "intervals_stamped": self.intervals_stamped,
            "stamped_bots": sum(1 for b in self.bots if b.stamped),
            "welcome": None
            if self.welcome is None
            else {
                "tick_rate": self.welcome.tick_rate,
                "snapshot_rate": self.welcome.snapshot_rate,
                "rules": dict(self.welcome.rules),
            },
            "bots": [b.report(w) for b in self.bots],
            "rtts": [x for b in self.bots for x in b.stats.rtts],
            "mirrored": {
                "snap_bytes": sum(b.stats.snap_bytes for b in self.bots),
                "moving": sum(b.stats.moving for b in self.bots),
                "snapshots": sum(b.stats.mirrored for b in self.bots),
                "held": sum(b.stats.held for b in self.bots),
            },
        }
