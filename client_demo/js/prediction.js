// Client-side prediction and reconciliation of the player's own entity.
//
// Invariants:
// - Each input sent moves the player by exactly one step of the server's rule (rules.js), at
//   once, so own movement answers the keyboard without waiting a round trip.
// - Inputs the server has not confirmed (seq > the snapshot's last_seq) are kept, in seq order.
// - On each snapshot the prediction restarts from the server's position for this player, as of
//   last_seq, and replays the kept inputs: the result is what the server will compute once it
//   has applied them, so with no packet loss and the same rules the correction is zero.
// - A small correction is not shown as a jump: the drawn position carries a render offset that
//   decays to zero; a large one (a respawn, a teleport) snaps.
// - On a map, a step is the server's move among walls (collision.js, stepWithWalls with the
//   player radius), so a player running into a wall is stopped where the server stops it.
// - A dead player (hp 0) does not move: the server ignores its inputs until it respawns.
// No DOM here: time comes in as arguments.

import { stepWithWalls } from "./collision.js";
import { stepWithRules } from "./rules.js";

export class Predictor {
  constructor(rules, { snapDistance = 48, smoothingHalfLifeMs = 80, maxPending = 256, walls = null } = {}) {
    this.rules = rules;
    this.walls = walls; // a collision.js WallGrid, or null: the open rectangle of rules.js
    this.snapDistance = snapDistance;
    this.halfLife = smoothingHalfLifeMs;
    this.maxPending = maxPending;
    this.pending = []; // [{seq, moveX, moveY}] not yet confirmed, in seq order
    this.x = null; // predicted position after every input sent
    this.y = null;
    this.prevX = null; // predicted position before the newest input (for drawing between inputs)
    this.prevY = null;
    this.offsetX = 0; // render offset after a smoothed correction; decays to 0
    this.offsetY = 0;
    this.alive = true;
    this.lastError = 0; // size of the newest correction, world units
    this.maxError = 0;
    this.corrections = 0; // reconciliations that moved the prediction at all
    this.snaps = 0; // corrections too large to smooth
  }

  /** The map's walls arrived (or went): later steps move among them. */
  setWalls(walls) {
    this.walls = walls;
  }

  /** One input's movement: the server's rule (world.py step_position or step_with_walls). */
  step(x, y, moveX, moveY) {
    const r = this.rules;
    if (this.walls) return stepWithWalls(this.walls, x, y, moveX, moveY, r.step, r.player_radius, r.quanta);
    return stepWithRules(x, y, moveX, moveY, r);
  }

  get ready() {
    return this.x !== null;
  }

  /** A new input was sent: keep it and move the prediction by one step. */
  applyInput(seq, moveX, moveY) {
    if (this.x === null) return; // no server position yet: nothing to predict from
    this.pending.push({ seq, moveX, moveY });
    if (this.pending.length > this.maxPending) this.pending.shift();
    this.prevX = this.x;
    this.prevY = this.y;
    if (this.alive) [this.x, this.y] = this.step(this.x, this.y, moveX, moveY);
  }

  /**
   * A snapshot gave the server's position (x, y) of this player after input `lastSeq` (null:
   * none applied yet) and whether it is alive. Returns the size of the correction.
   */
  reconcile(x, y, lastSeq, alive = true) {
    if (lastSeq !== null) {
      let drop = 0;
      while (drop < this.pending.length && this.pending[drop].seq <= lastSeq) drop += 1;
      if (drop) this.pending.splice(0, drop);
    }
    this.alive = alive;
    let px = x;
    let py = y;
    if (alive) {
      for (const input of this.pending) [px, py] = this.step(px, py, input.moveX, input.moveY);
    }
    if (this.x === null) {
      this.x = this.prevX = px;
      this.y = this.prevY = py;
      this.lastError = 0;
      return 0;
    }
    const ex = this.x - px;
    const ey = this.y - py;
    const error = Math.hypot(ex, ey);
    this.lastError = error;
    if (error > 0) {
      this.corrections += 1;
      this.maxError = Math.max(this.maxError, error);
      if (error > this.snapDistance) {
        this.snaps += 1;
        this.offsetX = this.offsetY = 0;
      } else {
        // Keep drawing where the player was seen; the offset then fades away.
        this.offsetX += ex;
        this.offsetY += ey;
      }
      this.prevX += px - this.x;
      this.prevY += py - this.y;
    }
    this.x = px;
    this.y = py;
    return error;
  }

  /** Let the render offset decay for `elapsedMs`. */
  decay(elapsedMs) {
    const k = Math.pow(0.5, Math.max(0, elapsedMs) / this.halfLife);
    this.offsetX *= k;
    this.offsetY *= k;
    if (Math.abs(this.offsetX) < 1 / 64) this.offsetX = 0;
    if (Math.abs(this.offsetY) < 1 / 64) this.offsetY = 0;
  }

  /**
   * Where to draw the player: between the positions before and after the newest input
   * (`alpha` 0..1 of the input period elapsed), plus the render offset.
   */
  drawn(alpha = 1) {
    const a = Math.min(Math.max(alpha, 0), 1);
    return {
      x: this.prevX + (this.x - this.prevX) * a + this.offsetX,
      y: this.prevY + (this.y - this.prevY) * a + this.offsetY,
    };
  }

  reset() {
    this.pending = [];
    this.x = this.y = this.prevX = this.prevY = null;
    this.offsetX = this.offsetY = 0;
    this.alive = true;
  }
}
