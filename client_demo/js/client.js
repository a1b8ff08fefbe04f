// One player's session with the server: the WebSocket, the handshake, the input timer, the
// snapshot stream and reconnection with backoff.
//
// Invariants:
// - Inputs are sent from a timer at the server's tick rate, not from the render loop (browsers
//   pause requestAnimationFrame in background tabs, and the server drops a client whose
//   acknowledgements lag more than 5 s): one INPUT per tick, idle ones included, each carrying
//   ack_tick = the newest snapshot tick held.
// - The timer keeps the tick rate on average without drifting (each wake-up is scheduled
//   against a fixed start), and never bursts to catch up after a pause: the server applies one
//   input per tick sustained and queues at most 8.
// - connection states: "idle" -> "connecting" -> "connected" -> ("reconnecting" | "closed").
//   "closed" is final until connect() is called again: the server refused this client for a
//   cause that retrying would repeat (FATAL_CODES, and ROOM_CODES: its room or seat is refused),
//   or another connection took this player over (session_replaced). Everything else retries
//   with backoff.
// - A connection is dead when it closes, and also when no snapshot came for STALL_MS: a browser
//   may keep a socket "open" through a network that went away. The page then drops it with a
//   code the server takes for a drop (not 1000/1001), so that the server keeps the player.
// - A reconnection resumes the same player: its HELLO carries the last WELCOME's session token
//   (each token works once; every WELCOME brings the next). Only disconnect() closes with 1000,
//   which the server takes for leaving. When the token is refused (session_expired), the page
//   joins the same room afresh at once, as a new player.
// - A seat is used by one HELLO only: once welcomed, the session forgets it and joins its room
//   by id when it reconnects.
// - A spectator (spectate: true) has no entity and sends no INPUT, ever (the server closes it
//   with spectator_input): its WELCOME's entity id 0 is nobody's, so myId stays null and nothing
//   is predicted. It acknowledges every snapshot with an ACK instead, from the message handler
//   (not a timer: a background tab still gets its messages). It has no session token: a
//   reconnection sends the spectating HELLO again with the room's id, and asks again for the
//   player it was told to follow.
// - Each WELCOME starts a new mirror, read by the schema that WELCOME carries: what the entities
//   hold is the server's to declare (schema.js).
// - A snapshot that carries a checksum is checked against what the mirror then holds; when they
//   disagree the client sends RESYNC (at most one a second, as the server takes them) and the
//   server's next snapshot, full, replaces everything held. The connection stays up.
// - A page plays any game on this client. The library's: the connection and its lifecycle, the
//   handshake and resumes, the input timer and acknowledgements, the mirror, the snapshot buffer
//   and tick clock, events (`shots`), the scoreboard, pings and statistics. The game's, given as
//   options, each defaulting to the arena's: `readRules` (the WELCOME's rules -> the rules
//   object; it holds at least `quanta`, and `speed` sizes the buffer's teleport distance),
//   `makePredictor` (what predicts the own entity: an object with the Predictor's interface, or
//   null for none) and `isAlive` (whether the own entity moves, as reconciliation is told).
//   Everything drawn, and every meaning of an entity's fields, is the page's.
// No DOM here beyond WebSocket and timers, which are injectable.

import {
  FATAL_CODES,
  MsgType,
  ROOM_CODES,
  ProtocolError,
  decodeServer,
  encodeAck,
  encodeResync,
  encodeFollow,
  encodeHello,
  encodeInput,
  encodeInputFields,
  isStandardInputs,
  encodePing,
  encodeRaw,
} from "./protocol.js";
import { BrokenStream, Mirror } from "./mirror.js";
import { Predictor } from "./prediction.js";
import { AdaptiveDelay, SnapshotBuffer, TickClock } from "./interpolation.js";
import { rulesFromWelcome } from "./rules.js";

/** Per-second rates over a sliding one-second window. */
class Rate {
  constructor() {
    this.events = []; // [time, amount]
  }
  add(now, amount = 1) {
    this.events.push([now, amount]);
    this.trim(now);
  }
  trim(now) {
    while (this.events.length && this.events[0][0] < now - 1000) this.events.shift();
  }
  perSecond(now) {
    this.trim(now);
    let sum = 0;
    for (const [, a] of this.events) sum += a;
    return sum;
  }
}

// The server sends a snapshot at least once a second even when nothing moves (its heartbeat).
// 2.5 s without one is two heartbeats missed plus half a second for a late tick or a TCP
// retransmission: quieter than that, the connection is dead even if the browser never says so.
// Waiting longer only delays the resume; the server keeps a dropped player --reconnect-grace
// seconds (20 by default), so detection plus the backoff below leaves many attempts in it.
export const STALL_MS = 2500;
// A connection not welcomed this long after it was started is given up and tried again (the
// server itself gives a silent connection 5 s to say hello).
export const WELCOME_TIMEOUT_MS = 5000;
// A check of the timers above that itself ran this late (a page stalled, or throttled in the
// background) judges again a moment later: snapshots that arrived meanwhile may still be queued
// behind it.
const LATE_CHECK_MS = 500;
// The close code for a connection given up from this side: any code but 1000 and 1001 tells the
// server it is a drop, not a leave (docs/protocol.md, "Reconnection").
export const DROP_CLOSE_CODE = 4000;
// Codes of an ERROR after which the server still keeps the player for a resume; after any other
// ERROR or GOODBYE it has removed it, and its token would only be refused.
const KEEPS_PLAYER = new Set(["too_slow"]);

/** The arena's prediction: the open world's rule, or its map's walls once the page has the map. */
export function arenaPredictor(rules, welcome, client) {
  return new Predictor(rules, { walls: client._wallsFor(welcome.map) });
}

/** The arena's "alive": a player with hp left moves; a dead one waits for its respawn. */
export function arenaAlive(entity) {
  return entity.hp > 0;
}

/**
 * Milliseconds before reconnection attempt `attempt` (1, 2, ...): 0.25, 0.5, 1, 2, then 4 s
 * each, +-20 % so that the clients of a restarted server do not all come back at once. The first
 * attempts are quick because a dropped player waits for its resume; the cap keeps several
 * attempts within the server's grace window once the network is back.
 */
export function backoffDelay(attempt, { baseMs = 250, maxMs = 4000, random = Math.random } = {}) {
  const d = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(d * (0.8 + 0.4 * random())); // jitter: a restarted server is not stampeded
}

export class GameClient {
  constructor({
    url,
    name,
    room = null, // the room to join by id; null: quick play on the server's default map
    seat = null, // a seat matchmaking reserved (POST /matchmake/...), for the first HELLO
    spectate = false, // watch the room without playing (no entity, no inputs)
    readInput, // () => {moveX, moveY, aim, buttons}
    interpDelayMs = null, // null: automatic (see interpDelay)
    helloVersion = undefined,
    WebSocketImpl = globalThis.WebSocket,
    now = () => performance.now(),
    setTimer = (fn, ms) => setTimeout(fn, ms),
    clearTimer = (id) => clearTimeout(id),
    onChange = () => {},
    // the game's parts (see the header); the defaults are the arena's
    readRules = rulesFromWelcome, // (welcome.rules) => the rules object (this.rules)
    makePredictor = arenaPredictor, // (rules, welcome, client) => a predictor of the own entity, or null
    isAlive = arenaAlive, // (own entity as the mirror holds it) => whether its inputs move it
  }) {
    Object.assign(this, { url, name, room, seat, spectate, readInput, interpDelayMs, helloVersion, WebSocketImpl, now, setTimer, clearTimer, onChange });
    Object.assign(this, { readRules, makePredictor, isAlive });
    this.state = "idle";
    this.attempt = 0; // failed connection attempts since the last welcome
    this.retryAt = null;
    this.lastClose = null; // {code, reason, errorCode, message, kind} of the last close
    this.ws = null;
    this.welcome = null;
    this.rules = null;
    this.myId = null; // this player's entity id; null for a spectator (its WELCOME says 0)
    this.following = null; // a spectator: whom the server says it follows (FOLLOWING); null: nobody
    this.followKnown = false; // a FOLLOWING came since the last WELCOME
    this.followWanted = null; // a spectator: the player asked for by follow(), asked again after a reconnection
    this.mirror = new Mirror();
    this.resyncAt = null; // when the last RESYNC went out
    this.buffer = new SnapshotBuffer();
    this.clock = null;
    this.adaptive = null; // the automatic interpolation delay (AdaptiveDelay), from the welcome on
    this.predictor = null;
    this.map = null; // the map read by map.js (set by the page), for its walls
    this.seq = 0;
    this.lastInput = { moveX: 0, moveY: 0, aim: 0, buttons: 0 };
    this.lastInputAt = null;
    this.sessionToken = null; // the last WELCOME's, sent by the next HELLO to resume this player
    this.joinKind = null; // of the last WELCOME: "new", "resumed" (the same player) or "rejoined" (its token refused: a new player)
    this.tokenRefused = false; // session_expired came: the next welcome is a new player in place of the old
    this.lastSnapshotAt = null; // when the last snapshot (or the welcome) came, for the dead-connection check
    this.connectStartedAt = null;
    this.lostAt = null; // when the playing connection was seen dead, until the next welcome
    this.watchdogDue = null;
    this.watchdogDeferred = false;
    this.timers = { input: null, ping: null, retry: null, watchdog: null };
    this.stats = {
      rttMs: null,
      rttSmoothMs: null,
      serverTick: null,
      snapshots: 0,
      bytesIn: 0,
      bytesOut: 0,
      inputsSent: 0,
      acksSent: 0, // a spectator's ACKs
      follows: 0, // a spectator's FOLLOWs
      pings: 0,
      brokenStreams: 0,
      checksumsMatched: 0, // snapshots whose checksum what was held agreed with
      desyncs: 0, // and those it did not
      resyncs: 0, // RESYNCs sent for those (at most one a second)
      connects: 0,
      resumes: 0, // welcomes that gave back the same player
      stalls: 0, // connections given up for want of snapshots (or of a welcome)
      lastOutageMs: null, // from a playing connection seen dead to the next welcome
      unknownMessages: 0,
    };
    this.scoreboard = []; // [{id, name, score, deaths, away}], best first
    this.shots = []; // [{tick, shooter, hit}] not yet shown; the page takes them at their tick
    this.lastHitBy = null; // {tick, shooter} of the newest shot that hit this player
    this.rates = { snapshots: new Rate(), bytesIn: new Rate(), bytesOut: new Rate() };
  }

  // --- lifecycle ------------------------------------------------------------------------

  connect() {
    this._clearTimers();
    this._setState("connecting");
    let ws;
    try {
      ws = new this.WebSocketImpl(this.url);
    } catch (err) {
      this.lastClose = { code: null, reason: "", errorCode: "bad_url", message: String(err), kind: "local" };
      this._setState("closed");
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    let opened = false;
    let sentToken = false;
    let serverWord = null; // the ERROR or GOODBYE received before the close
    ws.onopen = () => {
      if (this.ws !== ws) return;
      opened = true;
      if (this.spectate) this.sessionToken = this.seat = null; // neither goes with a spectating HELLO
      sentToken = this.sessionToken !== null;
      const hello = { room: this.room, seat: this.seat, sessionToken: this.sessionToken, spectate: this.spectate };
      if (this.helloVersion !== undefined) hello.version = this.helloVersion;
      this._send(encodeHello(this.name, hello));
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      const msg = this._receive(ev.data);
      if (msg && (msg.type === MsgType.ERROR || msg.type === MsgType.GOODBYE)) serverWord = msg;
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this._stopSession();
      this._noteLost();
      const errorCode = serverWord ? serverWord.code : ev.reason || null;
      this.lastClose = {
        code: ev.code,
        reason: ev.reason,
        errorCode,
        message: serverWord ? serverWord.message : "",
        kind: serverWord ? (serverWord.type === MsgType.ERROR ? "error" : "goodbye") : opened ? "lost" : "unreachable",
      };
      if (serverWord && !KEEPS_PLAYER.has(serverWord.code)) this.sessionToken = null; // the server removed the player
      if (errorCode === "session_expired" && sentToken) {
        // The player was not kept (the grace ran out, or the token was used): join the same
        // room afresh, at once; without a token this cannot be refused the same way again.
        this.sessionToken = null;
        this.tokenRefused = true;
        this.connect();
      } else if (errorCode === "session_replaced") {
        this._setState("closed"); // another tab or window plays this player now: not ours to take back
      } else if (errorCode && (FATAL_CODES.has(errorCode) || ROOM_CODES.has(errorCode))) {
        this._setState("closed");
      } else {
        this._scheduleRetry();
      }
    };
    ws.onerror = () => {}; // a close event follows with what is known
    this.connectStartedAt = this.now();
    this._armWatchdog(WELCOME_TIMEOUT_MS);
  }

  /** The connection is dead though not closed (no snapshot, or no welcome, in time): drop it and reconnect. */
  _abandon(reason) {
    const ws = this.ws;
    this.ws = null;
    this._stopSession();
    this._noteLost();
    this.stats.stalls += 1;
    ws.onopen = ws.onmessage = ws.onclose = null;
    try {
      ws.close(DROP_CLOSE_CODE, reason); // if it still reaches the server: a drop, the player is kept
    } catch {
      // an implementation that refuses the code: the socket is forgotten all the same
    }
    this.lastClose = { code: null, reason, errorCode: null, message: "", kind: "stalled" };
    this._scheduleRetry();
  }

  _noteLost() {
    if (this.state === "connected" && this.lostAt === null) this.lostAt = this.now();
  }

  _armWatchdog(delayMs) {
    this.clearTimer(this.timers.watchdog);
    this.watchdogDue = this.now() + delayMs;
    this.timers.watchdog = this.setTimer(() => this._checkAlive(), delayMs);
  }

  _checkAlive() {
    this.timers.watchdog = null;
    if (!this.ws) return;
    const now = this.now();
    if (now - this.watchdogDue > LATE_CHECK_MS && !this.watchdogDeferred) {
      this.watchdogDeferred = true;
      this._armWatchdog(100);
      return;
    }
    this.watchdogDeferred = false;
    const playing = this.state === "connected";
    const limit = playing ? STALL_MS : WELCOME_TIMEOUT_MS;
    const since = playing ? this.lastSnapshotAt : this.connectStartedAt;
    if (now - since >= limit) this._abandon(playing ? "no_snapshots" : "no_welcome");
    else this._armWatchdog(since + limit - now);
  }

  /** Close for good (no reconnection), e.g. when the page is left. */
  disconnect() {
    this._clearTimers();
    const ws = this.ws;
    this.ws = null;
    this._stopSession();
    if (ws) ws.close(1000, "bye"); // 1000: the server removes the player at once
    this.sessionToken = null;
    this.lostAt = null;
    this.lastClose = { code: 1000, reason: "bye", errorCode: null, message: "", kind: "local" };
    this._setState("closed");
  }

  _scheduleRetry() {
    this.attempt += 1;
    const delay = backoffDelay(this.attempt);
    this.retryAt = this.now() + delay;
    this._setState("reconnecting");
    this.timers.retry = this.setTimer(() => {
      this.timers.retry = null;
      this.retryAt = null;
      this.connect();
    }, delay);
  }

  _stopSession() {
    this.clearTimer(this.timers.input);
    this.clearTimer(this.timers.ping);
    this.clearTimer(this.timers.watchdog);
    this.timers.input = this.timers.ping = this.timers.watchdog = null;
    this.watchdogDeferred = false;
  }

  _clearTimers() {
    this._stopSession();
    this.clearTimer(this.timers.retry);
    this.timers.retry = null;
  }

  _setState(state) {
    this.state = state;
    this.onChange(this);
  }

  _send(bytes) {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return false;
    ws.send(bytes);
    this.stats.bytesOut += bytes.byteLength;
    this.rates.bytesOut.add(this.now(), bytes.byteLength);
    return true;
  }

  /** Send any message array as it is (tests use this to make the server refuse us). */
  sendRaw(array) {
    return this._send(encodeRaw(array));
  }

  // --- receiving ------------------------------------------------------------------------

  _receive(data) {
    const now = this.now();
    const size = data.byteLength ?? 0;
    this.stats.bytesIn += size;
    this.rates.bytesIn.add(now, size);
    let msg;
    try {
      msg = decodeServer(data);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      console.warn("gameserver: bad message from the server:", err.message);
      return null;
    }
    switch (msg.type) {
      case MsgType.WELCOME:
        this._onWelcome(msg, now);
        break;
      case MsgType.SNAPSHOT:
        this._onSnapshot(msg, now);
        break;
      case MsgType.PONG: {
        const rtt = now - msg.clientTime;
        this.stats.rttMs = rtt;
        this.stats.rttSmoothMs = this.stats.rttSmoothMs === null ? rtt : this.stats.rttSmoothMs * 0.8 + rtt * 0.2;
        break;
      }
      case MsgType.SCOREBOARD:
        this.scoreboard = msg.lines;
        break;
      case MsgType.FOLLOWING:
        this.following = msg.entityId;
        this.followKnown = true;
        break;
      default:
        if (msg.unknown) this.stats.unknownMessages += 1;
        break; // ERROR / GOODBYE: kept by connect() for the close that follows
    }
    return msg;
  }

  _onWelcome(msg, now) {
    const before = this.welcome;
    const myId = msg.entityId > 0 ? msg.entityId : null; // 0: a spectator, who has no entity
    const resumed = myId !== null && before !== null && msg.room === before.room && myId === this.myId;
    this.joinKind = resumed ? "resumed" : this.tokenRefused ? "rejoined" : "new";
    this.tokenRefused = false;
    if (resumed) this.stats.resumes += 1;
    if (!before || msg.room !== before.room) {
      this.scoreboard = [];
      this.followWanted = null; // a player of another room
    }
    if (this.lostAt !== null) this.stats.lastOutageMs = now - this.lostAt;
    this.lostAt = null;
    this.welcome = msg;
    // the one sent before no longer works; a spectator's is "" (it has none)
    this.sessionToken = this.spectate || msg.sessionToken === "" ? null : msg.sessionToken;
    this.room = msg.room; // a reconnection rejoins this room (a new seat would need HTTP)
    this.seat = null;
    this.rules = this.readRules(msg.rules);
    this.myId = myId;
    this.following = null; // until the FOLLOWING that comes right after
    this.followKnown = false;
    this.mirror = new Mirror(msg.schema); // null from a server older than schemas: the arena's
    const speed = Number.isFinite(this.rules.speed) ? this.rules.speed : 0; // a game may have none
    this.buffer = new SnapshotBuffer({ teleportDistance: Math.max(100, speed * 0.5) });
    this.clock = new TickClock(msg.tickRate);
    this.adaptive = new AdaptiveDelay({ intervalMs: 1000 / msg.snapshotRate });
    // nothing to predict without an own entity; the game may predict nothing at all
    this.predictor = myId === null ? null : (this.makePredictor(this.rules, msg, this) ?? null);
    this.seq = 0; // the server takes any seq first from a new connection, a resumed one included
    this.lastInputAt = null;
    this.shots = [];
    this.attempt = 0;
    this.lastSnapshotAt = now;
    this.stats.connects += 1;
    this.lastClose = null;
    this._setState("connected");
    if (this.spectate) this._startPings();
    else this._startInputTimer(1000 / msg.tickRate, now);
    this._armWatchdog(STALL_MS);
    this._ping();
    // back in the same room after a drop: the player chosen before, if still there (the server
    // ignores an id that is not a player of the room, and answers with whom it follows)
    if (this.spectate && this.followWanted !== null) this._sendFollow(this.followWanted);
  }

  _onSnapshot(msg, now) {
    let agrees;
    try {
      agrees = this.mirror.apply(msg);
    } catch (err) {
      if (!(err instanceof BrokenStream)) throw err;
      // Cannot happen with a correct server; starting a new session is the only repair.
      this.stats.brokenStreams += 1;
      console.warn("gameserver:", err.message);
      if (this.ws) this.ws.close(DROP_CLOSE_CODE, "broken_stream"); // a drop: the resume starts from a full snapshot
      return;
    }
    if (msg.checksum !== null) {
      if (agrees) this.stats.checksumsMatched += 1;
      else this._desync(now);
    }
    this.stats.snapshots += 1;
    this.lastSnapshotAt = now;
    this.stats.serverTick = msg.tick;
    this.rates.snapshots.add(now);
    this.adaptive.observe(this.clock.observe(msg.tick, now), now);
    this.buffer.push(msg.tick, this.mirror.frame(this.rules.quanta));
    for (const shot of msg.shots) {
      this.shots.push({ tick: msg.tick, ...shot });
      // kept apart from the drawing queue, which a late frame may have emptied by the time the
      // page asks who shot this player
      if (this.myId !== null && shot.hit === this.myId) this.lastHitBy = { tick: msg.tick, shooter: shot.shooter };
    }
    if (this.shots.length > 256) this.shots.splice(0, this.shots.length - 256);
    if (this.spectate) {
      // no inputs carry the acknowledgement: an ACK per snapshot, or the server cuts us as too_slow
      if (this._send(encodeAck(msg.tick))) this.stats.acksSent += 1;
      return;
    }
    const me = this.myId === null ? undefined : this.mirror.entities.get(this.myId);
    if (me && this.predictor) this.predictor.reconcile(me.qx / this.rules.quanta, me.qy / this.rules.quanta, msg.lastSeq, this.isAlive(me));
    // Browsers slow timers in background tabs to once a second, and after a few minutes to
    // once a minute, but still deliver messages: acknowledge from here when the timer lags, so
    // the server does not drop a player who only switched tabs.
    if (this.lastInputAt !== null && now - this.lastInputAt > 1000) this._sendInput();
  }

  /**
   * What the mirror holds disagrees with a snapshot's checksum: ask for a full snapshot (RESYNC),
   * which replaces everything held. The server takes one a second, so no more are sent.
   */
  _desync(now) {
    this.stats.desyncs += 1;
    console.warn(`gameserver: what is held at tick ${this.mirror.tick} disagrees with the server's checksum; asking for a full snapshot`);
    if (this.resyncAt !== null && now - this.resyncAt < 1000) return;
    if (this._send(encodeResync())) {
      this.resyncAt = now;
      this.stats.resyncs += 1;
    }
  }

  // --- sending --------------------------------------------------------------------------

  _startInputTimer(periodMs, start) {
    let n = 0;
    let base = start;
    const fire = () => {
      this.timers.input = null;
      if (!this.ws) return;
      this._sendInput();
      n += 1;
      let due = base + n * periodMs;
      const now = this.now();
      if (now - due > periodMs) {
        // Woke up late (a background tab, a stall): no burst to catch up; this wake-up
        // becomes the start of a new schedule.
        base = now;
        n = 1;
        due = now + periodMs;
      }
      this.timers.input = this.setTimer(fire, Math.max(0, due - now));
    };
    this.timers.input = this.setTimer(fire, 0);
    this._startPings();
  }

  _startPings() {
    const pingLoop = () => {
      this._ping();
      this.timers.ping = this.setTimer(pingLoop, 1000);
    };
    this.timers.ping = this.setTimer(pingLoop, 1000);
  }

  /**
   * The interpolation delay in ms now: as asked (?interp=MS), or by default adapted to the
   * jitter of snapshot arrivals (interpolation.js AdaptiveDelay; 100 ms, or two snapshot
   * intervals if longer, before the first welcome).
   */
  get interpDelay() {
    return this.interpDelayAt(this.now());
  }

  interpDelayAt(now) {
    if (this.interpDelayMs !== null) return this.interpDelayMs;
    if (this.adaptive) return this.adaptive.delayAt(now);
    const every = this.welcome ? 1000 / this.welcome.snapshotRate : 0;
    return Math.max(100, 2 * every);
  }

  /** The smoothed lateness of snapshot arrivals in ms (AdaptiveDelay.jitterMs); null before a welcome. */
  get jitterMs() {
    return this.adaptive ? this.adaptive.jitterMs : null;
  }

  /** The tick the others are drawn at: the estimated server tick minus the interpolation delay. */
  renderTick(now = this.now()) {
    if (!this.clock) return null;
    const t = this.clock.tickAt(now);
    return t === null ? null : t - this.interpDelayAt(now) / this.clock.tickMs;
  }

  _sendInput() {
    if (this.spectate) return; // never: the server would close a spectator for it
    const now = this.now();
    const input = this.readInput();
    this.seq += 1;
    const renderTick = this.renderTick(now);
    const render = renderTick !== null && renderTick >= 0 ? renderTick : null;
    const fields = this.mirror.schema.inputs;
    // the game's own input fields, by name from readInput(); the standard four as they always were
    const sent = this._send(
      fields.length > 0 && !isStandardInputs(fields)
        ? encodeInputFields({ seq: this.seq, fields, values: input, ackTick: this.mirror.tick, renderTick: render })
        : encodeInput({
            seq: this.seq,
            moveX: input.moveX,
            moveY: input.moveY,
            aim: input.aim,
            buttons: input.buttons,
            ackTick: this.mirror.tick,
            renderTick: render,
          }),
    );
    if (!sent) return;
    this.stats.inputsSent += 1;
    this.lastInput = input;
    this.lastInputAt = now;
    if (this.predictor) this.predictor.applyInput(this.seq, Math.min(Math.max(input.moveX, -1), 1), Math.min(Math.max(input.moveY, -1), 1));
  }

  /**
   * A spectator asks to follow player `entityId` (null: the server picks). The server answers
   * with FOLLOWING (client.following); an id that is not a player of the room changes nothing.
   * False when not sent: not a spectator, or not connected.
   */
  follow(entityId) {
    if (!this.spectate) return false;
    const id = entityId === null || entityId === undefined ? null : entityId;
    if (this.state !== "connected") return false;
    this.followWanted = id;
    return this._sendFollow(id);
  }

  _sendFollow(id) {
    const sent = this._send(encodeFollow(id));
    if (sent) this.stats.follows += 1;
    return sent;
  }

  _ping() {
    if (this._send(encodePing(this.now()))) this.stats.pings += 1;
  }

  // --- for the page ---------------------------------------------------------------------

  /** The server's map (welcome.map) was read: own movement is predicted against its walls (a predictor that takes walls). */
  setMap(map) {
    this.map = map;
    if (this.predictor && this.welcome && typeof this.predictor.setWalls === "function") this.predictor.setWalls(this._wallsFor(this.welcome.map));
  }

  _wallsFor(name) {
    return name !== null && this.map && this.map.name === name ? this.map.walls : null;
  }

  rateStats(now = this.now()) {
    return {
      snapshotsPerSec: this.rates.snapshots.perSecond(now),
      bytesInPerSec: this.rates.bytesIn.perSecond(now),
      bytesOutPerSec: this.rates.bytesOut.perSecond(now),
    };
  }
}
