// Entity interpolation: the other players are drawn a little in the past (the interpolation
// delay), between the two snapshots around that time, so they move smoothly whatever the jitter
// of the network. The delay adapts to the jitter measured (AdaptiveDelay), or is fixed.
//
// Invariants:
// - Time is measured in server ticks. TickClock maps the local clock to an estimate of the
//   server's current tick from snapshot arrivals; render tick = estimate - delay.
// - AdaptiveDelay's delay stays within [lo, hi] and changes at a bounded rate (the drawn time
//   never jumps: it runs at most `growRate` slower or `shrinkRate` faster than real time).
// - The buffer holds frames in increasing tick order and never more than `capacity`.
// - sample() never extrapolates: past the newest frame it holds the newest frame and reports an
//   underrun (the delay is too short for this network, or snapshots stopped).
// No DOM here: times come in as arguments (milliseconds, e.g. performance.now()).

/** Estimates the server's current tick (fractional) from when snapshots arrive. */
export class TickClock {
  constructor(tickRate, { resetAfterMs = 250, gain = 0.05 } = {}) {
    this.tickMs = 1000 / tickRate;
    this.resetAfterMs = resetAfterMs;
    this.gain = gain;
    this.offset = null; // ms: server tick time (tick * tickMs) minus local time
  }

  /**
   * A snapshot of `tick` arrived at local time `now`. Returns its lateness: how many ms after
   * the time the clock expected it (the clock leans to the earliest arrivals), 0 when early,
   * on time, or the first (or the clock starts over).
   */
  observe(tick, now) {
    const sample = tick * this.tickMs - now;
    const late = this.offset === null ? 0 : Math.max(0, this.offset - sample);
    if (this.offset === null || Math.abs(sample - this.offset) > this.resetAfterMs) {
      this.offset = sample;
    } else if (sample > this.offset) {
      // Arrived earlier than expected: the least delayed snapshots tell the clock best.
      this.offset += (sample - this.offset) * 0.5;
    } else {
      this.offset += (sample - this.offset) * this.gain;
    }
    return late;
  }

  /** The server tick estimated for local time `now` (fractional), or null before any snapshot. */
  tickAt(now) {
    return this.offset === null ? null : (now + this.offset) / this.tickMs;
  }
}

/**
 * The automatic interpolation delay, a jitter buffer: long enough that the next snapshot is
 * nearly always there before the drawn time needs it, no longer.
 *
 *   jitter  = the lateness of snapshot arrivals (TickClock.observe()), smoothed per snapshot:
 *             it follows a later arrival with gain `riseGain` (1/4) and an earlier one with
 *             `fallGain` (1/64), so one late burst raises it at once and it comes down over
 *             about two seconds of snapshots at 30 per second. Quick up and slow down, it
 *             stays near the largest lateness of the last seconds, not their mean.
 *   target  = clamp(k * interval + m * jitter, lo, hi), with interval = 1000 / snapshot rate,
 *             k = 2, m = 1, lo = max(minMs, 2 intervals), hi = maxMs (300).
 *   delay   moves toward the target by at most growRate (0.1) ms per ms when growing and
 *             shrinkRate (0.02) ms per ms when shrinking: the drawn time runs at most 10 %
 *             slower or 2 % faster than real time, never jumps.
 *
 * It starts at `initialMs` (the former fixed default: 100 ms, or two intervals if longer).
 * A snapshot `late` ms late is drawn in time when the delay is at least one interval plus
 * `late`: m = 1 times that envelope covers the late ones, and the second interval is margin
 * (about three intervals in all under jitter, as jitter buffers usually hold). A stall longer
 * than the delay cannot be covered: hi keeps the others from being drawn far in the past.
 */
export class AdaptiveDelay {
  constructor({
    intervalMs,
    initialMs = Math.max(100, 2 * intervalMs),
    k = 2,
    m = 1,
    minMs = 0,
    maxMs = 300,
    riseGain = 1 / 4,
    fallGain = 1 / 64,
    growRate = 0.1,
    shrinkRate = 0.02,
  }) {
    Object.assign(this, { intervalMs, k, m, riseGain, fallGain, growRate, shrinkRate });
    this.lo = Math.max(minMs, 2 * intervalMs);
    this.hi = Math.max(this.lo, maxMs);
    this.jitterMs = 0;
    this.targetMs = this.clamp(initialMs);
    this.value = this.targetMs; // the delay at time `at`
    this.at = null;
  }

  clamp(ms) {
    return Math.min(this.hi, Math.max(this.lo, ms));
  }

  /** A snapshot arrived at `now`, `lateMs` later than expected (TickClock.observe()). */
  observe(lateMs, now) {
    this.delayAt(now); // the delay so far moved toward the old target
    const gain = lateMs > this.jitterMs ? this.riseGain : this.fallGain;
    this.jitterMs += (lateMs - this.jitterMs) * gain;
    this.targetMs = this.clamp(this.k * this.intervalMs + this.m * this.jitterMs);
  }

  /** The delay in ms at local time `now` (ms, not before the last call's). */
  delayAt(now) {
    if (this.at !== null && now > this.at) {
      const elapsed = now - this.at;
      const gap = this.targetMs - this.value;
      this.value += gap > 0 ? Math.min(gap, elapsed * this.growRate) : Math.max(gap, -elapsed * this.shrinkRate);
    }
    if (this.at === null || now > this.at) this.at = now;
    return this.value;
  }
}

function lerp(a, b, t) {
  return a + (b - a) * t;
}

/** Shortest way round between two facings on a circle of `steps`. */
export function lerpAngle(a, b, t, steps = 256) {
  let d = (((b - a) % steps) + steps) % steps;
  if (d > steps / 2) d -= steps;
  return (((a + d * t) % steps) + steps) % steps;
}

export class SnapshotBuffer {
  constructor({ capacity = 64, teleportDistance = 200 } = {}) {
    this.capacity = capacity;
    this.teleportDistance = teleportDistance; // farther than this between frames: jump
    this.frames = []; // [{tick, entities: Map id -> {x, y, angle, hp, name, kind}}]
    this.underruns = 0; // times sampling ran past the newest frame (counted once per episode)
    this.underrunFrames = 0; // samples taken past the newest frame
    this.inUnderrun = false;
  }

  push(tick, entities) {
    const n = this.frames.length;
    if (n && tick <= this.frames[n - 1].tick) {
      if (tick < this.frames[n - 1].tick) this.frames = []; // the server restarted: start over
      else return;
    }
    this.frames.push({ tick, entities });
    if (this.frames.length > this.capacity) this.frames.shift();
  }

  clear() {
    this.frames = [];
    this.inUnderrun = false;
  }

  get newestTick() {
    return this.frames.length ? this.frames[this.frames.length - 1].tick : null;
  }

  /**
   * The entities at `renderTick` (fractional): {entities: Map, underrun, tick}. `count` false
   * samples without touching the underrun counters (a look from outside the render loop). Between two
   * frames positions and facings are interpolated; hp, names and membership come from the
   * newer frame once it is reached, from the older before.
   */
  sample(renderTick, { count = true } = {}) {
    const frames = this.frames;
    if (!frames.length) return { entities: new Map(), underrun: false, tick: null };
    const newest = frames[frames.length - 1];
    if (renderTick >= newest.tick) {
      const underrun = renderTick > newest.tick;
      if (count) {
        if (underrun) {
          this.underrunFrames += 1;
          if (!this.inUnderrun) this.underruns += 1;
        }
        this.inUnderrun = underrun;
      }
      return { entities: copy(newest.entities), underrun, tick: newest.tick };
    }
    if (count) this.inUnderrun = false;
    if (renderTick <= frames[0].tick) return { entities: copy(frames[0].entities), underrun: false, tick: frames[0].tick };
    let i = frames.length - 1;
    while (frames[i - 1].tick > renderTick) i -= 1;
    const a = frames[i - 1];
    const b = frames[i];
    const t = (renderTick - a.tick) / (b.tick - a.tick);
    return { entities: interpolate(a.entities, b.entities, t, this.teleportDistance), underrun: false, tick: renderTick };
  }
}

function copy(entities) {
  const out = new Map();
  for (const [id, e] of entities) out.set(id, { ...e });
  return out;
}

/** Entities between frames a and b at fraction t; only those present in both move smoothly. */
export function interpolate(a, b, t, teleportDistance = Infinity) {
  const out = new Map();
  for (const [id, eb] of b) {
    const ea = a.get(id);
    if (ea === undefined) {
      if (t >= 0.5) out.set(id, { ...eb }); // spawned in b: appears halfway
      continue;
    }
    if (Math.hypot(eb.x - ea.x, eb.y - ea.y) > teleportDistance) {
      out.set(id, { ...(t < 0.5 ? ea : eb) }); // a respawn: no sliding across the map
      continue;
    }
    const newer = t >= 0.5 ? eb : ea;
    const e = { ...newer, x: lerp(ea.x, eb.x, t), y: lerp(ea.y, eb.y, t) };
    if (ea.angle !== undefined && eb.angle !== undefined) e.angle = lerpAngle(ea.angle, eb.angle, t); // a kind may have none
    out.set(id, e);
  }
  for (const [id, ea] of a) {
    if (!b.has(id) && t < 0.5) out.set(id, { ...ea }); // removed in b: gone halfway
  }
  return out;
}
