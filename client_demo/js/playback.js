// The playback page (playback.html): a recorded match played back in the browser, drawn by the
// renderer of the game's own page, with play/pause, a step of one snapshot either way, a speed
// (0.25x to 4x) and a tick slider.
//
// A playback file is written by `python -m gameserver.replay FILE --export OUT` (its docstring
// says the format): a msgpack map whose `messages` are the server's own WELCOME, SCOREBOARD and
// SNAPSHOT messages as a spectator with no view is sent them. They are decoded with protocol.js
// and applied with mirror.js, as a live page does; each snapshot's state is kept once read, so a
// step back or a seek is a look-up, not a replay.
//
// Query parameters: ?file=URL fetches a playback file at once (a file picker opens one too);
// ?speed=X starts at that speed; ?paused=1 starts paused at the first snapshot.
//
// Invariants:
// - Time is in ticks. The playhead runs at tick_rate x speed ticks a second of the page's clock
//   while playing, from an anchor (tick, time) set at every play, pause, seek and change of
//   speed; so it is read exactly at any moment, not only at animation frames.
// - The snapshot shown is the newest at or before the playhead; between two snapshots the
//   entities are interpolated (interpolation.js), at a snapshot they are that snapshot's.
// - The arena is drawn by render.js, the ball game by ball/render.js; any other game by render.js.

import { decode } from "../vendor/msgpack/dist.esm/index.mjs";
import { TEAM_NAMES, draw as drawBall } from "./ball/render.js";
import { ballRules, kindIds, scoreOf } from "./ball/rules.js";
import { wallDistance } from "./collision.js";
import { plain } from "./hooks.js";
import { interpolate } from "./interpolation.js";
import { MapView, loadMap } from "./map.js";
import { BrokenStream, Mirror } from "./mirror.js";
import { MsgType, ProtocolError, parseServer } from "./protocol.js";
import { camera, draw } from "./render.js";
import { rulesFromWelcome } from "./rules.js";
import { fitCanvas } from "./view.js";

export const PLAYBACK_FORMAT = "gameserver-playback";
export const PLAYBACK_VERSION = 1;
export const SPEEDS = Object.freeze([0.25, 0.5, 1, 2, 4]);
const TELEPORT = 200; // world units between two snapshots past which an entity jumps (a respawn)
const TRACER_MS = 120;

export class PlaybackError extends Error {}

/**
 * A playback file's bytes -> {header (the file's map without its messages), welcome, rules,
 * schema (parsed), snapshots: [{tick, frame (Map id -> entity in world units), rows (as
 * Mirror.rows()), shots, scoreboard (the lines in force)}]}. Throws PlaybackError.
 */
export function readPlayback(bytes) {
  let doc;
  try {
    doc = decode(bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes);
  } catch (err) {
    throw new PlaybackError(`not a playback file: not one msgpack value (${err.message})`);
  }
  if (doc === null || typeof doc !== "object" || doc.format !== PLAYBACK_FORMAT) {
    throw new PlaybackError("not a playback file: `python -m gameserver.replay RECORDING --export OUT` writes one");
  }
  if (doc.version !== PLAYBACK_VERSION) throw new PlaybackError(`a playback file of version ${doc.version}; this page reads version ${PLAYBACK_VERSION}`);
  if (!Array.isArray(doc.messages) || doc.messages.length < 2) throw new PlaybackError("the playback file holds no snapshot");
  const { messages, ...header } = doc;
  const parsed = messages.map((bytes, i) => {
    try {
      return parseServer(decode(bytes));
    } catch (err) {
      throw new PlaybackError(`message ${i} of the playback file: ${err.message}`);
    }
  });
  const welcome = parsed[0];
  if (welcome.type !== MsgType.WELCOME) throw new PlaybackError("the playback file does not start with a WELCOME");
  const rules = header.game === "ball" ? ballRules(welcome.rules) : rulesFromWelcome(welcome.rules);
  const mirror = new Mirror(welcome.schema);
  const snapshots = [];
  let scoreboard = [];
  for (const msg of parsed.slice(1)) {
    if (msg.type === MsgType.SCOREBOARD) scoreboard = msg.lines;
    if (msg.type !== MsgType.SNAPSHOT) continue;
    try {
      mirror.apply(msg);
    } catch (err) {
      if (err instanceof BrokenStream) throw new PlaybackError(`the snapshot of tick ${msg.tick} does not apply: ${err.message}`);
      throw err;
    }
    snapshots.push({ tick: msg.tick, frame: mirror.frame(rules.quanta), rows: mirror.rows(), shots: msg.shots, scoreboard });
  }
  if (!snapshots.length) throw new PlaybackError("the playback file holds no snapshot");
  return { header, welcome, rules, schema: mirror.schema, snapshots };
}

/** Where the playback is: a playhead in ticks that runs at tick_rate x speed while playing. */
export class Transport {
  constructor(snapshots, tickRate, { now = 0, speed = 1, paused = false } = {}) {
    this.snapshots = snapshots;
    this.tickRate = tickRate;
    this.speed = speed;
    this.paused = paused;
    this.anchorTick = snapshots[0].tick;
    this.anchorTime = now;
  }

  get firstTick() {
    return this.snapshots[0].tick;
  }

  get lastTick() {
    return this.snapshots[this.snapshots.length - 1].tick;
  }

  /** The playhead at `now` (fractional ticks), held at the last snapshot. */
  playhead(now) {
    if (this.paused) return this.anchorTick;
    const t = this.anchorTick + ((now - this.anchorTime) / 1000) * this.tickRate * this.speed;
    return Math.min(t, this.lastTick);
  }

  /** Whether the playhead reached the end (it then stays there). */
  ended(now) {
    return this.playhead(now) >= this.lastTick;
  }

  /** The index of the newest snapshot at or before `tick`. */
  indexAt(tick) {
    const s = this.snapshots;
    let lo = 0;
    let hi = s.length - 1;
    if (tick <= s[0].tick) return 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid].tick <= tick) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  index(now) {
    return this.indexAt(this.playhead(now));
  }

  _anchor(tick, now) {
    this.anchorTick = Math.min(Math.max(tick, this.firstTick), this.lastTick);
    this.anchorTime = now;
  }

  play(now) {
    const at = this.ended(now) ? this.firstTick : this.playhead(now); // at the end: from the start
    this.paused = false;
    this._anchor(at, now);
  }

  pause(now) {
    this._anchor(this.playhead(now), now);
    this.paused = true;
  }

  setSpeed(speed, now) {
    this._anchor(this.playhead(now), now);
    this.speed = speed;
  }

  seek(tick, now) {
    this._anchor(tick, now);
  }

  /** Pause on the snapshot `n` snapshots after (before, n < 0) the one shown; its index. */
  step(n, now) {
    const i = Math.min(Math.max(this.index(now) + n, 0), this.snapshots.length - 1);
    this.paused = true;
    this._anchor(this.snapshots[i].tick, now);
    return i;
  }

  /** The entities at the playhead: interpolated between two snapshots, a snapshot's own at one. */
  entities(now) {
    const t = this.playhead(now);
    const i = this.indexAt(t);
    const a = this.snapshots[i];
    const b = this.snapshots[i + 1];
    if (b === undefined || t <= a.tick) return interpolate(a.frame, a.frame, 0);
    return interpolate(a.frame, b.frame, (t - a.tick) / (b.tick - a.tick), TELEPORT);
  }
}

// --- the page -----------------------------------------------------------------------------------

function startPage() {
  const params = new URLSearchParams(location.search);
  const canvas = document.getElementById("view");
  const ctx = canvas.getContext("2d");
  const hudEl = document.getElementById("hud");
  const scoresEl = document.getElementById("scores");
  const statusEl = document.getElementById("status");
  const statusText = document.getElementById("status-text");
  const fileInput = document.getElementById("file");
  const playButton = document.getElementById("play");
  const backButton = document.getElementById("back");
  const forwardButton = document.getElementById("forward");
  const speedSelect = document.getElementById("speed");
  const slider = document.getElementById("slider");
  const tickEl = document.getElementById("tick");
  const followSelect = document.getElementById("follow");

  let size = { width: 0, height: 0, dpr: 1 };
  let playback = null; // readPlayback()'s
  let transport = null;
  let source = null; // the file's name or URL
  let error = null;
  let loading = false;
  let frames = 0; // animation frames drawn
  let shownIndex = null; // the snapshot whose shots were last taken
  let follow = null; // the entity the camera follows; null: the scoreboard's leader
  const tracers = []; // [{x, y, aim, length, at}]
  const flashes = new Map(); // id -> time of the hit
  let mapState = { name: null, status: "none", map: null, view: null, error: null };
  let scoresShown = "";

  function showError(message) {
    error = message;
    statusText.textContent = message;
    statusEl.hidden = false;
    statusEl.dataset.state = "closed";
  }

  function load(bytes, name) {
    let pb;
    try {
      pb = readPlayback(bytes);
    } catch (err) {
      if (!(err instanceof PlaybackError || err instanceof ProtocolError)) throw err;
      showError(`${name}: ${err.message}`);
      return false;
    }
    error = null;
    statusEl.hidden = true;
    playback = pb;
    source = name;
    const speed = SPEEDS.includes(Number(params.get("speed"))) ? Number(params.get("speed")) : 1;
    transport = new Transport(pb.snapshots, pb.welcome.tickRate, { now: performance.now(), speed, paused: params.get("paused") === "1" });
    shownIndex = null;
    follow = null;
    tracers.length = 0;
    flashes.clear();
    slider.min = String(transport.firstTick);
    slider.max = String(transport.lastTick);
    speedSelect.value = String(speed);
    for (const el of [playButton, backButton, forwardButton, speedSelect, slider, followSelect]) el.disabled = false;
    loadMapOf(pb);
    canvas.focus();
    return true;
  }

  function loadMapOf(pb) {
    const name = pb.welcome.map;
    mapState = { name, status: name === null ? "none" : "loading", map: null, view: null, error: null };
    if (name === null) return;
    loadMap(name)
      .then((map) => {
        if (mapState.name === name) mapState = { ...mapState, status: "loaded", map, view: new MapView(map) };
      })
      .catch((err) => {
        if (mapState.name === name) mapState = { ...mapState, status: "failed", error: String(err) };
        console.warn("gameserver: cannot load the map:", err);
      });
  }

  async function fetchPlayback(url) {
    loading = true;
    try {
      const response = await fetch(url);
      if (!response.ok) {
        showError(`${url}: HTTP ${response.status}`);
        return;
      }
      load(await response.arrayBuffer(), url);
    } catch (err) {
      showError(`${url}: ${err.message}`);
    } finally {
      loading = false;
    }
  }

  fileInput.addEventListener("change", async () => {
    const file = fileInput.files && fileInput.files[0];
    if (!file) return;
    loading = true;
    try {
      load(await file.arrayBuffer(), file.name);
    } finally {
      loading = false;
    }
  });

  // --- controls ---------------------------------------------------------------------------------

  function playPause() {
    if (!transport) return;
    const now = performance.now();
    if (transport.paused || transport.ended(now)) transport.play(now);
    else transport.pause(now);
  }

  function step(n) {
    if (!transport) return null;
    const i = transport.step(n, performance.now());
    return transport.snapshots[i].tick;
  }

  function setSpeed(speed) {
    if (!transport || !SPEEDS.includes(speed)) return false;
    transport.setSpeed(speed, performance.now());
    speedSelect.value = String(speed);
    return true;
  }

  function seek(tick) {
    if (!transport) return null;
    transport.seek(tick, performance.now());
    shownIndex = null; // no shots fired on a jump
    return transport.playhead(performance.now());
  }

  playButton.addEventListener("click", playPause);
  backButton.addEventListener("click", () => step(-1));
  forwardButton.addEventListener("click", () => step(1));
  speedSelect.addEventListener("change", () => setSpeed(Number(speedSelect.value)));
  slider.addEventListener("input", () => seek(Number(slider.value)));
  followSelect.addEventListener("change", () => {
    follow = followSelect.value === "" ? null : Number(followSelect.value);
  });
  window.addEventListener("keydown", (ev) => {
    if (ev.target instanceof Element && ev.target.closest("input, select, button")) return; // theirs
    if (ev.key === " ") playPause();
    else if (ev.key === "ArrowRight" || ev.key === ".") step(1);
    else if (ev.key === "ArrowLeft" || ev.key === ",") step(-1);
    else return;
    ev.preventDefault();
  });

  // --- drawing ----------------------------------------------------------------------------------

  const isBall = () => playback !== null && playback.header.game === "ball";

  /** The shots of the snapshots the playhead passed since the last frame, as tracers and flashes. */
  function takeShots(index, entities, now) {
    if (shownIndex === null || index < shownIndex || index - shownIndex > 8) {
      shownIndex = index; // a jump: nothing fired on the way
      return;
    }
    for (let i = shownIndex + 1; i <= index; i += 1) {
      for (const shot of transport.snapshots[i].shots) {
        if (isBall()) continue; // a goal event; the score shows it
        const from = entities.get(shot.shooter);
        if (!from) continue;
        const target = shot.hit !== null ? entities.get(shot.hit) : undefined;
        if (shot.hit !== null) flashes.set(shot.hit, now);
        const aim = target ? Math.atan2(target.y - from.y, target.x - from.x) : (from.angle * 2 * Math.PI) / playback.rules.angle_steps;
        const range = playback.rules.weapon_range;
        const length = target ? Math.hypot(target.x - from.x, target.y - from.y) : mapState.map ? wallDistance(mapState.map.walls, from.x, from.y, aim, range) : range;
        tracers.push({ x: from.x, y: from.y, aim, length, at: now });
      }
    }
    shownIndex = index;
  }

  function leader(scoreboard, entities) {
    for (const line of scoreboard) if (entities.has(line.id)) return line.id;
    const ids = [...entities.keys()].sort((a, b) => a - b);
    return ids.length ? ids[0] : null;
  }

  function focusId(entities) {
    if (follow !== null && entities.has(follow)) return follow;
    return leader(transport.snapshots[transport.index(performance.now())].scoreboard, entities);
  }

  function updateFollow(scoreboard) {
    const key = JSON.stringify(scoreboard.map((l) => [l.id, l.name]));
    if (followSelect.dataset.key === key) return;
    followSelect.dataset.key = key;
    const keep = followSelect.value;
    followSelect.replaceChildren(new Option("the leader", ""));
    for (const l of [...scoreboard].sort((a, b) => a.id - b.id)) followSelect.append(new Option(l.name, String(l.id)));
    followSelect.value = [...followSelect.options].some((o) => o.value === keep) ? keep : "";
  }

  function updateScores(scoreboard) {
    const texts = scoreboard.slice(0, 8).map((l) => `${l.name.padEnd(16).slice(0, 16)} ${String(l.score).padStart(3)} / ${l.deaths}`);
    const key = texts.join("\n");
    if (key === scoresShown) return;
    scoresShown = key;
    scoresEl.hidden = isBall() || texts.length === 0;
    scoresEl.textContent = texts.length ? `kills / deaths\n${key}` : "";
  }

  function frame() {
    const now = performance.now();
    frames += 1;
    size = fitCanvas(canvas, size);
    if (!transport) {
      draw(ctx, { width: size.width, height: size.height, dpr: size.dpr, rules: null });
      hudEl.textContent = loading ? "Loading…" : "No playback loaded: open a file (python -m gameserver.replay RECORDING --export OUT).";
      requestAnimationFrame(frame);
      return;
    }
    const index = transport.index(now);
    const snap = transport.snapshots[index];
    const entities = transport.entities(now);
    takeShots(index, entities, now);
    while (tracers.length && now - tracers[0].at > TRACER_MS) tracers.shift();
    for (const [id, t] of flashes) if (now - t > TRACER_MS) flashes.delete(id);
    const rules = playback.rules;
    if (isBall()) {
      const kinds = kindIds(playback.schema);
      drawBall(ctx, {
        width: size.width,
        height: size.height,
        dpr: size.dpr,
        rules,
        kinds,
        entities,
        myId: null,
        myAim: null,
        score: scoreOf(entities, kinds.goal),
        flash: null,
        notice: null,
      });
    } else {
      const id = focusId(entities);
      const focus = id === null ? null : entities.get(id);
      draw(ctx, {
        width: size.width,
        height: size.height,
        dpr: size.dpr,
        rules,
        entities,
        myId: null,
        myAim: null,
        tracers: tracers.map((t) => ({ ...t, age: (now - t.at) / TRACER_MS })),
        flashes: new Map([...flashes].map(([fid, t]) => [fid, 1 - (now - t) / TRACER_MS])),
        mapView: mapState.view,
        notice: null,
        focus: focus ? { x: focus.x, y: focus.y } : null,
        followId: follow !== null && entities.has(follow) ? follow : null,
      });
    }
    updateScores(snap.scoreboard);
    updateFollow(snap.scoreboard);
    const playing = !transport.paused && !transport.ended(now);
    playButton.textContent = playing ? "Pause" : "Play";
    const playhead = transport.playhead(now);
    if (document.activeElement !== slider) slider.value = String(Math.round(playhead));
    tickEl.textContent = `tick ${snap.tick} / ${transport.lastTick} · snapshot ${index + 1} of ${transport.snapshots.length}`;
    const h = playback.header;
    const teams = isBall() ? ` · ${TEAM_NAMES[0]} ${scoreOf(entities, kindIds(playback.schema).goal).red} : ${scoreOf(entities, kindIds(playback.schema).goal).blue} ${TEAM_NAMES[1]}` : "";
    hudEl.textContent = `${h.game} · room ${h.room} · ${h.map ?? "open field"} · ${entities.size} entities · ${playing ? `playing ${transport.speed}×` : transport.ended(now) ? "ended" : "paused"}${teams}`;
    requestAnimationFrame(frame);
  }

  // --- window.game: the page's state, for the console and the tests --------------------------

  window.game = {
    /** "idle" (nothing loaded), "loading", "loaded" or "failed" (see error). */
    get state() {
      if (loading) return "loading";
      if (error !== null) return "failed";
      return playback ? "loaded" : "idle";
    },
    get error() {
      return error;
    },
    get source() {
      return source;
    },
    /** The playback file's header: game, room, map, seed, tick_rate, snapshot_rate, rules, schema, first_tick, last_tick, snapshots. */
    get header() {
      return playback ? { ...playback.header } : null;
    },
    get rules() {
      return playback ? playback.rules : null;
    },
    /** The snapshot ticks, in order. */
    get ticks() {
      return playback ? playback.snapshots.map((s) => s.tick) : [];
    },
    /** The tick of the snapshot shown (the newest at or before the playhead). */
    get tick() {
      return transport ? transport.snapshots[transport.index(performance.now())].tick : null;
    },
    /** Its index in `ticks`. */
    get index() {
      return transport ? transport.index(performance.now()) : null;
    },
    /** The playhead in fractional ticks. */
    get playhead() {
      return transport ? transport.playhead(performance.now()) : null;
    },
    /** [playhead, the page's clock in ms], read at one moment. */
    clock() {
      const now = performance.now();
      return transport ? [transport.playhead(now), now] : [null, now];
    },
    get paused() {
      return transport ? transport.paused : true;
    },
    get ended() {
      return transport ? transport.ended(performance.now()) : false;
    },
    get speed() {
      return transport ? transport.speed : 1;
    },
    /** Animation frames drawn so far. */
    get frames() {
      return frames;
    },
    /** id -> {id, kind, x, y, ...the kind's fields} as drawn now (interpolated between snapshots). */
    get entities() {
      return transport ? plain(transport.entities(performance.now())) : {};
    },
    /** id -> the shown snapshot's state, in world units. */
    get snapshot() {
      return transport ? plain(transport.snapshots[transport.index(performance.now())].frame) : {};
    },
    /** The shown snapshot's rows as the Python mirror holds them: id -> [qx, qy, kind, ...]. */
    get rows() {
      return transport ? transport.snapshots[transport.index(performance.now())].rows : {};
    },
    /** The SCOREBOARD lines in force at the shown snapshot. */
    get scoreboard() {
      return transport ? transport.snapshots[transport.index(performance.now())].scoreboard : [];
    },
    /** The map as loaded: {name, status, error}. */
    get map() {
      return { name: mapState.name, status: mapState.status, error: mapState.error };
    },
    /** The shots drawn now: [{x, y, aim, length}]. */
    get tracers() {
      return tracers.map(({ x, y, aim, length }) => ({ x, y, aim, length }));
    },
    /** The world point at the canvas centre now (the arena), or null. */
    get camera() {
      if (!transport || isBall()) return null;
      const entities = transport.entities(performance.now());
      const id = focusId(entities);
      const cam = camera(size.width, size.height, playback.rules, id === null ? null : entities.get(id));
      return { x: cam.x, y: cam.y };
    },
    play() {
      if (transport && (transport.paused || transport.ended(performance.now()))) playPause();
    },
    pause() {
      if (transport && !transport.paused) transport.pause(performance.now());
    },
    /** Pause on the snapshot n after (n < 0: before) the one shown; its tick. */
    step: (n = 1) => step(n),
    setSpeed,
    seek,
    /** The camera follows entity `id` (null: the leader). */
    follow(id) {
      follow = id;
    },
    /** Load a playback file from its bytes (an ArrayBuffer or Uint8Array); false when it is not one. */
    load: (bytes, name = "bytes") => load(bytes, name),
  };

  const url = params.get("file");
  if (url) fetchPlayback(url);
  requestAnimationFrame(frame);
}

if (typeof document !== "undefined" && document.getElementById("view")) startPage();
