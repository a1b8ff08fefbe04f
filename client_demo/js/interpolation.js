// Entity interpolation: the other players are drawn a little in the past (the interpolation
// delay, 100 ms by default), between the two snapshots around that time, so they move smoothly
// whatever the jitter of the network.
//
// Invariants:
// - Time is measured in server ticks. TickClock maps the local clock to an estimate of the
//   server's current tick from snapshot arrivals; render tick = estimate - delay.
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

  /** A snapshot of `tick` arrived at local time `now`. */
  observe(tick, now) {
    const sample = tick * this.tickMs - now;
    if (this.offset === null || Math.abs(sample - this.offset) > this.resetAfterMs) {
      this.offset = sample;
    } else if (sample > this.offset) {
      // Arrived earlier than expected: the least delayed snapshots tell the clock best.
      this.offset += (sample - this.offset) * 0.5;
    } else {
      this.offset += (sample - this.offset) * this.gain;
    }
  }

  /** The server tick estimated for local time `now` (fractional), or null before any snapshot. */
  tickAt(now) {
    return this.offset === null ? null : (now + this.offset) / this.tickMs;
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
