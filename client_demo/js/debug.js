// The debug overlay every game page shows (F3 or ` toggles it, ?debug=1 opens it): the figures of
// a GameClient (client.js) as lines of text, and the page's frame rate.
//
// - pageStats(): the figures a page shows and exposes as window.game.stats: the client's counters
//   (client.stats), its rates over the last second, the prediction's errors and corrections,
//   the interpolation's delay, measured jitter and underruns, the entities held and the page's
//   frames per second.
// - debugLines(): those figures as the overlay's lines; a pure function of the client it reads.
// - FrameRate: frames per second, smoothed over the last frames.
// - DebugOverlay: drives a <pre> element: shown or hidden by the toggle key, its text renewed
//   each frame while shown.
// Node's test runner loads this module as it is (DebugOverlay only touches what it is given).

/** The keys (KeyboardEvent.code) that show or hide the overlay. */
export const DEBUG_KEYS = new Set(["F3", "Backquote"]);

/** `v` with `digits` decimals and `unit`; "–" when there is no value. */
export function fmt(v, digits = 0, unit = "") {
  return v === null || v === undefined || Number.isNaN(v) ? "–" : `${v.toFixed(digits)}${unit}`;
}

/**
 * The figures of `client` at `now` (the client's clock by default) with the page's `fps`:
 * client.stats, client.rateStats(), unackedInputs, lastPredictionError, maxPredictionError,
 * corrections, snaps (corrections too large to smooth), interpDelayMs (the delay now), jitterMs
 * (the smoothed lateness of snapshot arrivals the automatic delay follows; null before a
 * welcome), interpUnderruns, interpUnderrunFrames, entities (held in the mirror) and fps.
 * No client: {}.
 */
export function pageStats(client, { now = undefined, fps = null } = {}) {
  if (!client) return {};
  const p = client.predictor;
  return {
    ...client.stats,
    ...client.rateStats(now),
    unackedInputs: p ? p.pending.length : 0,
    lastPredictionError: p ? p.lastError : null,
    maxPredictionError: p ? p.maxError : null,
    corrections: p ? p.corrections : 0,
    snaps: p ? p.snaps : 0,
    interpDelayMs: client.interpDelayAt(now ?? client.now()),
    jitterMs: client.jitterMs,
    interpUnderruns: client.buffer.underruns,
    interpUnderrunFrames: client.buffer.underrunFrames,
    entities: client.mirror.entities.size,
    fps,
  };
}

/** The overlay's lines for `client` at `now` (the client's clock by default); a spectator gets one more. */
export function debugLines(client, { now = undefined, fps = null } = {}) {
  if (!client) return ["state       idle"];
  const at = now ?? client.now();
  const s = pageStats(client, { now: at, fps });
  return [
    `state       ${client.state}`,
    `rtt         ${fmt(s.rttMs, 1, " ms")} (avg ${fmt(s.rttSmoothMs, 1, " ms")})`,
    `server tick ${s.serverTick ?? "–"}  render tick ${fmt(client.renderTick(at), 1)}`,
    `snapshots   ${s.snapshotsPerSec}/s`,
    `bytes in    ${s.bytesInPerSec} B/s  out ${s.bytesOutPerSec} B/s`,
    `unacked     ${s.unackedInputs} inputs`,
    `pred error  last ${fmt(s.lastPredictionError, 3)}  max ${fmt(s.maxPredictionError, 3)} units`,
    `corrections ${s.corrections} (${s.snaps} snapped)`,
    `interp      ${fmt(s.interpDelayMs, 0, " ms")} ${client.interpDelayMs === null ? "auto" : "fixed"}, jitter ${fmt(s.jitterMs, 1, " ms")}, underruns ${s.interpUnderruns} (${s.interpUnderrunFrames} frames)`,
    `entities    ${s.entities}  fps ${fmt(fps, 0)}`,
    `checksums   ${s.checksumsMatched} agreed, ${s.desyncs} desyncs, ${s.resyncs} resyncs`,
    ...(client.spectate ? [`spectating  following ${client.following ?? "–"}, ${s.acksSent} acks sent, ${s.inputsSent} inputs`] : []),
  ];
}

/** Frames per second, an exponential average over the frames (each weighs 1/10). */
export class FrameRate {
  constructor(now) {
    this.lastAt = now;
    this.fps = 0;
  }

  /** A frame is drawn at `now`: the ms since the one before. */
  frame(now) {
    const elapsed = now - this.lastAt;
    this.lastAt = now;
    this.fps = this.fps * 0.9 + (elapsed > 0 ? 1000 / elapsed : 0) * 0.1;
    return elapsed;
  }
}

/**
 * The overlay in element `el` (a <pre>): `visible` at first, toggled by DEBUG_KEYS pressed on
 * `keyTarget` (the window); ` typed into a text field is the field's (a name may hold it).
 */
export class DebugOverlay {
  constructor(el, { visible = false, keyTarget = globalThis.window } = {}) {
    this.el = el;
    this.visible = visible;
    if (keyTarget) {
      keyTarget.addEventListener("keydown", (ev) => {
        if (!DEBUG_KEYS.has(ev.code) || (ev.code === "Backquote" && isTyping(ev.target))) return;
        this.visible = !this.visible;
        ev.preventDefault();
      });
    }
  }

  /** Show the lines of `client` at `now` with the page's `fps`, or hide the element. */
  update(client, now, fps) {
    this.el.hidden = !this.visible;
    if (!this.visible) return;
    const text = debugLines(client, { now, fps }).join("\n");
    if (this.el.textContent !== text) this.el.textContent = text;
  }
}

function isTyping(target) {
  const tag = target && target.tagName;
  return tag === "INPUT" || tag === "TEXTAREA";
}
