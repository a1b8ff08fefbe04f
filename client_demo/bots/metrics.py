"""What the bots measure: a bot's counters inside the measured window (Stats), the
percentiles, and the overall report of a run, merged from the reports of its runners (merge).

The window's counters and the arrival-interval histograms (HIST_RES buckets, Runner.intervals)
are kept by the runner (client_demo/bots/runner.py) as its bots read (client_demo/bots/bot.py);
each runner reports its bots (Runner.report, Bot.report) and merge() makes one report of them:
medians and percentiles over the bots, sums, the fight's, resumes' and spectators' figures, and
the rooms' (rooms.py).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from client_demo.bots import rooms

HIST_RES = 0.00025  # arrival-interval histogram buckets, seconds
HIST_MAX = 8000  # 2 s; longer intervals land in the last bucket
MAX_ERRORS_KEPT = 5  # error samples a bot keeps


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile of `values` (nearest rank); None if there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100.0 * len(ordered)) - 1))]


def hist_percentile(hist: list[int], q: float) -> float | None:
    """The q-th percentile of a histogram of HIST_RES buckets, in seconds (a bucket's upper end)."""
    total = sum(hist)
    if not total:
        return None
    want = math.ceil(q / 100.0 * total)
    seen = 0
    for i, n in enumerate(hist):
        seen += n
        if seen >= want:
            return (i + 1) * HIST_RES
    return HIST_MAX * HIST_RES


class Stats:
    """What one bot measured inside the window."""

    __slots__ = (
        "snapshots",
        "bytes_in",
        "bytes_out",
        "rtts",
        "max_interval",
        "verified",
        "mirrored",
        "snap_bytes",
        "moving",
        "held",
        "shots",
        "hits",
        "hit_by",
        "snapshot_bytes",
        "scoreboard_bytes",
        "scoreboards",
    )

    def __init__(self) -> None:
        self.snapshots = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.rtts: list[float] = []
        self.max_interval = 0.0
        self.verified = 0  # snapshots decoded and applied to a Mirror
        self.mirrored = 0  # snapshots applied to a Mirror or a Tracker
        self.snap_bytes = 0  # payload bytes of the mirrored delta snapshots
        self.moving = 0  # change records that move an entity, in those snapshots
        self.held = 0  # entities held after each mirrored snapshot, summed (the bot's view)
        self.shots = 0  # shots this bot fired (snapshot shots with shooter == me)
        self.hits = 0  # of those, the ones that hit someone
        self.hit_by = 0  # shots seen that hit this bot
        # payload bytes (no frame headers) of what a mirroring bot read, by message type
        self.snapshot_bytes = 0
        self.scoreboard_bytes = 0
        self.scoreboards = 0


def mean_of(values: list[float | None]) -> float | None:
    """The mean of the values that are not None; None if none is."""
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def to_ms(seconds: float | None) -> float | None:
    """Seconds as milliseconds; None stays None."""
    return None if seconds is None else seconds * 1e3


def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One overall report from the reports of several runners (processes). A bot that was sent
    an entity of another room counts an "isolation" error, as a failed verification does."""
    bots = [b for p in parts for b in p["bots"]]
    window = max((p["window_s"] for p in parts), default=0.0)
    violations = rooms.isolation_violations(bots)
    by_name = {b["name"]: b for b in bots}
    for v in violations:
        b = by_name[v["bot"]]
        b["errors"]["isolation"] = b["errors"].get("isolation", 0) + 1
        if len(b["error_samples"]) < MAX_ERRORS_KEPT:
            b["error_samples"].append(
                f"isolation: in room {v['room']} it was sent {v['held']}, of room(s) {v['held_rooms']}"
            )
    hist = [sum(col) for col in zip(*(p["intervals"] for p in parts), strict=True)] if parts else []
    hist_k = [sum(col) for col in zip(*(p["intervals_kernel"] for p in parts), strict=True)] if parts else []
    rtts = [x for p in parts for x in p["rtts"]]
    rates = [b["snapshots_per_s"] for b in bots if b["connects"]]
    errors: Counter[str] = Counter()
    closes: Counter[str] = Counter()
    samples: list[str] = []
    for b in bots:
        errors.update(b["errors"])
        closes.update(b["close_codes"])
        samples.extend(f"{b['name']}: {s}" for s in b["error_samples"])
    vb = sum(p["mirrored"]["snap_bytes"] for p in parts)
    vm = sum(p["mirrored"]["moving"] for p in parts)
    vs = sum(p["mirrored"]["snapshots"] for p in parts)
    vh = sum(p["mirrored"].get("held", 0) for p in parts)
    fighters = [b for b in bots if b["behaviour"] == "fight"]
    spectators = [b for b in bots if b["behaviour"] == "spectate"]
    spectator_rates = [b["snapshots_per_s"] for b in spectators if b["connects"]]
    resume_ms = [x for b in bots for x in b["resume_ms"]]
    return {
        "bots": len(bots),
        "connected": sum(1 for b in bots if b["connected"]),
        "connects": sum(b["connects"] for b in bots),
        "window_s": window,
        "snapshots_per_s_median": percentile(rates, 50),
        "snapshots_per_s_p1": percentile(rates, 1),
        "snapshots_per_s_mean": sum(rates) / len(rates) if rates else None,
        "interval_ms_p99": to_ms(hist_percentile(hist, 99)) if hist else None,
        # the same from the kernel's receive timestamps: without the bots' own loop latency
        "interval_ms_p99_kernel": to_ms(hist_percentile(hist_k, 99)) if hist_k else None,
        "intervals_counted": sum(hist),
        "intervals_counted_kernel": sum(hist_k),
        # the loop's intervals of the bots that asked for kernel timestamps (STAMPED_EVERY)
        "intervals_counted_stamped": sum(p["intervals_stamped"] for p in parts),
        "stamped_bots": sum(p["stamped_bots"] for p in parts),
        "interval_ms_max": max((b["max_interval_ms"] for b in bots), default=None),
        "rtt_ms_p50": to_ms(percentile(rtts, 50)),
        "rtt_ms_p99": to_ms(percentile(rtts, 99)),
        "bytes_in_per_s": sum(b["bytes_in_per_s"] for b in bots),
        "bytes_out_per_s": sum(b["bytes_out_per_s"] for b in bots),
        "verified_snapshots": sum(b["verified_snapshots"] for b in bots),
        "checksums_matched": sum(b["checksums_matched"] for b in bots),
        "resyncs": sum(b["resyncs"] for b in bots),
        "mirrored_snapshots": sum(b["mirrored_snapshots"] for b in bots),
        "bytes_per_moving_entity": vb / vm if vm else None,
        # per mirrored snapshot: entities the bot held (its view) and those that moved
        "held_mean": vh / vs if vs else None,
        "moving_mean": vm / vs if vs else None,
        # per mirroring bot and second: payload bytes of snapshots and of scoreboards
        "snapshot_bytes_per_s": mean_of([b["snapshot_bytes_per_s"] for b in bots]),
        "scoreboard_bytes_per_s": mean_of([b["scoreboard_bytes_per_s"] for b in bots]),
        "scoreboards_per_s": mean_of([b["scoreboards_per_s"] for b in bots]),
        "fight": {
            "bots": len(fighters),
            "shots": sum(b["shots"] for b in fighters),
            "hits": sum(b["hits"] for b in fighters),
            "kills": sum(b["kills"] for b in fighters),
            "deaths": sum(b["deaths"] for b in fighters),
            "total_shots": sum(b["total_shots"] for b in fighters),
            "total_hits": sum(b["total_hits"] for b in fighters),
            "total_kills": sum(b["total_kills"] for b in fighters),
            "total_deaths": sum(b["total_deaths"] for b in fighters),
        },
        # dropping bots, over the whole run: resumes, failed ones, and from a cut to the first
        # snapshot of the resumed player
        "resumes": sum(b["resumes"] for b in bots),
        "failed_resumes": sum(b["failed_resumes"] for b in bots),
        "resume_ms_p50": percentile(resume_ms, 50),
        "resume_ms_p99": percentile(resume_ms, 99),
        "resume_ms_max": max(resume_ms, default=None),
        # spectators: their snapshots in the window, and over the whole run their follows
        "spectate": {
            "bots": len(spectators),
            "connected": sum(1 for b in spectators if b["connected"]),
            "snapshots_per_s_median": percentile(spectator_rates, 50),
            "snapshots_per_s_min": min(spectator_rates, default=None),
            "follows": sum(b["follows"] for b in spectators),
            "followings": sum(b["followings"] for b in spectators),
            "follow_switches": sum(b["follow_switches"] for b in spectators),
            "follows_refused": sum(b["follows_refused"] for b in spectators),
            "followed_held": sum(b["followed_held"] for b in spectators),
            "followed_missing": sum(b["followed_missing"] for b in spectators),
            "followed_late": sum(b["followed_late"] for b in spectators),
            "scoreboards": sum(b["spectator_scoreboards"] for b in spectators),
            "retries": sum(b["spectate_retries"] for b in spectators),
            # spectators the server closed, or sent an ERROR
            "closed_by_server": sum(
                1 for b in spectators if b["errors"].get("closed") or b["errors"].get("server_error")
            ),
            "errors": sum(sum(b["errors"].values()) for b in spectators),
        },
        "errors": sum(errors.values()),
        "errors_by_kind": dict(errors),
        "error_samples": samples[:20],
        "close_codes": dict(closes),
        "cpu_s": sum(p["cpu_s"] for p in parts),
        "cpu_per_wall": sum(p["cpu_s"] for p in parts) / window if window else None,
        "processes": len(parts),
        "welcome": next((p["welcome"] for p in parts if p["welcome"]), None),
        "isolation_violations": len(violations),
        "rooms": rooms.room_summary(bots, window),
        "per_bot": bots,
    }
