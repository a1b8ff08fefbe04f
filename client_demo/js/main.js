// The demo page: wires the session (client.js), the input, the renderer and the overlays, and
// exposes the page's state on window.game for people with a console and for the browser tests.
//
// Query parameters: ?name=NAME joins at once (quick play on the server's default map);
// ?room=ID offers that room in the lobby, or with ?name= joins it at once; ?interp=MS fixes the
// interpolation delay (by default it adapts to the jitter measured: interpolation.js AdaptiveDelay);
// ?server=ws://HOST:PORT/ws connects elsewhere than this page's server (the lobby's requests go
// to http://HOST:PORT); ?debug=1 opens the debug overlay (F3 or ` toggles it). Without ?name=
// the page opens the lobby (lobby.js). Once in a room, the address becomes ?room=ID (other
// parameters kept), so that a reload rejoins it.
// ?spectate=1 watches without playing (spectate.js): the room of ?room=ID, or alone the busiest
// public room; the address then becomes ?room=ID&spectate=1. A spectator sends no input, the
// camera follows the player the server says (FOLLOWING), and a click on a name of the scoreboard
// asks to follow that one.

import { GameClient, STALL_MS } from "./client.js";
import { overlapsWall, wallDistance } from "./collision.js";
import { DebugOverlay, FrameRate } from "./debug.js";
import { extendHooks, gameHooks } from "./hooks.js";
import { InputState } from "./input.js";
import { Lobby, LobbyError, explain, explainSpectate, httpBase, matchmake, shareLink, withRoom, withSpectate } from "./lobby.js";
import { MapView, loadMap } from "./map.js";
import { ROOM_CODES } from "./protocol.js";
import { camera, draw } from "./render.js";
import { cleanName, generateName, isValidName } from "./rules.js";
import { SpectatorCamera, spectateFromSearch, spectateLine } from "./spectate.js";
import { drawnEntities, fitCanvas } from "./view.js";

const params = new URLSearchParams(location.search);
const interpDelayMs = clampInt(params.get("interp"), 0, 1000, null); // null: automatic
const serverUrl = params.get("server") || `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
const lobbyBase = baseOf(serverUrl);

const canvas = document.getElementById("view");
const ctx = canvas.getContext("2d");
const statusEl = document.getElementById("status");
const statusText = document.getElementById("status-text");
const retryButton = document.getElementById("retry");
const debugEl = document.getElementById("debug");
const hudEl = document.getElementById("hud");
const scoresEl = document.getElementById("scores");
const nameInput = document.getElementById("name");
const nameError = document.getElementById("name-error");
const roomBar = document.getElementById("room-bar");
const roomLabel = document.getElementById("room-label");
const roomLink = document.getElementById("room-link");
const copyStatus = document.getElementById("copy-status");
const spectateEl = document.getElementById("spectating");

const input = new InputState(window, canvas);
let client = null;
let size = { width: 0, height: 0, dpr: 1 };
const frames = new FrameRate(performance.now());
const debug = new DebugOverlay(debugEl, { visible: params.get("debug") === "1" });
const tracers = []; // own shots, drawn for a moment: [{x, y, aim, at}]
let nextShotAt = 0;
const hpSeen = new Map(); // id -> hp last drawn, to flash entities that lose hp
const flashes = new Map(); // id -> time of the hit
// The server's map (WELCOME's map name): {name, status: "none"|"loading"|"loaded"|"failed",
// map, view, error}. Loaded once per name, kept across reconnections.
let mapState = { name: null, status: "none", map: null, view: null, error: null };
let death = null; // own death: {tick: the first snapshot tick seen dead, by: killer's name or null}
let joined = null; // how this session found its room: {kind: "quick"|"create"|"join", private, map}; null: HELLO alone
let addressRoom = null; // the room id put in the address bar
let noticeTimer = null; // hides a notice shown over the game while connected
let noticedConnect = 0; // client.stats.connects when a notice was last shown for a welcome
const spectatorCamera = new SpectatorCamera(); // where a spectator's view is centred

function baseOf(url) {
  try {
    return httpBase(url);
  } catch {
    return location.origin; // a ?server= that is no URL: the session says so when it connects
  }
}

function clampInt(text, lo, hi, fallback) {
  const v = Number.parseInt(text ?? "", 10);
  return Number.isFinite(v) ? Math.min(Math.max(v, lo), hi) : fallback;
}

// --- joining ------------------------------------------------------------------------------

/**
 * Play: a session on `url` whose HELLO names `room` and `seat` (both null: quick play). With
 * `spectate`, watch `room` instead (null: the busiest public room), without a seat.
 */
function start(name, { room = null, seat = null, url = serverUrl, how = null, spectate = false } = {}) {
  lobby.hide();
  input.enabled = !spectate; // a spectator's keys and clicks move and fire nothing
  if (!spectate) {
    try {
      localStorage.setItem("gameserver.name", name);
    } catch {
      // storage may be off (private windows, file://): the name is just not remembered
    }
  }
  // a reload does what this page does now: watch again, or play
  history.replaceState(null, "", withSpectate(location.href, spectate));
  spectatorCamera.reset();
  const old = client;
  client = null;
  if (old) {
    old.onChange = () => {}; // its last "closed" is not this page's news any more
    old.disconnect();
  }
  joined = how;
  client = new GameClient({
    url,
    name,
    room,
    seat: spectate ? null : seat,
    spectate,
    interpDelayMs,
    readInput: () => input.read(ownScreenPosition()),
    onChange: showStatus,
  });
  client.connect();
  canvas.focus();
}

/** Matchmaking (quick, create or join) over HTTP, then the session with the seat it gave. */
async function joinWithSeat(kind, body, name) {
  const seat = await matchmake(lobbyBase, kind, body);
  // The answer says where to connect; a page told ?server= keeps to it if the answer is no ws URL.
  let url = typeof seat.url === "string" && /^wss?:\/\//.test(seat.url) ? seat.url : serverUrl;
  // A page served over https (behind a TLS proxy) may only open wss://, and the server, speaking
  // plain HTTP behind the proxy, answers ws://.
  if (location.protocol === "https:" && url.startsWith("ws://")) url = "wss://" + url.slice(5);
  start(name, { room: seat.room, seat: seat.seat, url, how: { kind, private: seat.private === true, map: seat.map } });
}

/** Watch `room` (null: the server's busiest public room) as a spectator. */
function watch(room, name = spectatorName()) {
  start(name, { room, spectate: true, how: { kind: "watch", private: null, map: null } });
}

/** A spectator's HELLO has a name too: ?name=, else the one remembered, else "spectator". */
function spectatorName() {
  let remembered = null;
  try {
    remembered = localStorage.getItem("gameserver.name");
  } catch {
    remembered = null;
  }
  for (const candidate of [params.get("name"), remembered]) {
    const name = cleanName(candidate);
    if (name !== null && isValidName(name)) return name;
  }
  return "spectator";
}

/** The name typed in the lobby, cleaned; null (and the reason shown) when it is not valid. */
function readName() {
  const name = cleanName(nameInput.value);
  if (name === null || !isValidName(name)) {
    nameError.textContent = "A name is 1 to 24 printable characters.";
    nameInput.focus();
    return null;
  }
  nameError.textContent = "";
  return name;
}

const lobby = new Lobby({ document, base: lobbyBase, readName, join: joinWithSeat });

/** Back to the lobby: the session (if any) ends, `error` says why, `invite` offers a room. */
function showLobby({ error = null, invite = undefined } = {}) {
  const old = client;
  client = null;
  if (old) {
    old.onChange = () => {};
    old.disconnect();
  }
  if (!nameInput.value) {
    let remembered = null;
    try {
      remembered = localStorage.getItem("gameserver.name");
    } catch {
      remembered = null;
    }
    nameInput.value = cleanName(remembered) || generateName();
  }
  statusEl.hidden = true;
  roomBar.hidden = true;
  input.enabled = false;
  lobby.show({ error, invite });
}

/** Joining `roomId` was refused (gone, full, a seat expired...): the lobby says why. */
function backToLobby(error, roomId) {
  const gone = error.code === "room_not_found" || error.code === "room_disposed";
  // a reload would be refused again; and from the lobby the page plays, it does not watch
  history.replaceState(null, "", withSpectate(gone ? withRoom(location.href, null) : location.href, false));
  if (gone) addressRoom = null;
  showLobby({ error, invite: gone ? null : roomId });
}

/** In a room: its id and link in the HUD, and in the address bar so that a reload rejoins it. */
function showRoom() {
  const w = client && client.welcome;
  roomBar.hidden = !w || lobby.visible;
  if (!w) return;
  if (addressRoom !== w.room) {
    addressRoom = w.room;
    history.replaceState(null, "", withRoom(location.href, w.room));
    roomLink.value = shareLink(location.href, w.room);
    copyStatus.textContent = "";
    const privacy = joined && joined.private ? " · private" : "";
    const watching = client.spectate ? " · watching" : "";
    roomLabel.textContent = `Room ${w.room} · ${w.map ?? "open field"}${privacy}${watching}`;
  }
}

document.getElementById("copy-link").addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText(roomLink.value);
    copyStatus.textContent = "Copied.";
  } catch {
    // no clipboard here (a page over plain http on another host): let the player copy it
    roomLink.focus();
    roomLink.select();
    copyStatus.textContent = "Press Ctrl+C to copy.";
  }
});

document.getElementById("leave").addEventListener("click", () => {
  history.replaceState(null, "", withSpectate(withRoom(location.href, null), false));
  addressRoom = null;
  showLobby({ invite: null });
});

retryButton.addEventListener("click", () => {
  if (client) client.connect();
});

// --- status and overlays -------------------------------------------------------------------

function describeClose(c) {
  if (!c) return "";
  if (c.kind === "unreachable") return `Cannot reach the server at ${serverUrl}.`;
  if (c.kind === "stalled") {
    return c.reason === "no_welcome" ? "The server did not answer in time." : `No snapshot from the server for ${STALL_MS / 1000} s: the connection is lost.`;
  }
  const close = c.code ? ` (close ${c.code})` : "";
  if (c.kind === "error" || c.kind === "goodbye") {
    const msg = c.message ? `: ${c.message}` : "";
    return `The server closed the connection: ${c.errorCode}${close}${msg}.`;
  }
  if (c.errorCode) return `The server closed the connection: ${c.errorCode}${close}.`;
  return `Connection lost${close}.`;
}

function showStatus() {
  if (!client) return;
  ensureMap(); // here too: a background tab gets no animation frames, and still plays
  const s = client.state;
  if (s === "closed" && client.lastClose && ROOM_CODES.has(client.lastClose.errorCode)) {
    const c = client.lastClose;
    // Refused while coming back after a drop: the player was not kept, and its room is gone too.
    const lost = client.tokenRefused ? "The connection was lost for too long to keep your player. " : "";
    const why = client.spectate ? explainSpectate(c.errorCode, c.message, client.room) : explain(c.errorCode, c.message);
    backToLobby(new LobbyError(c.errorCode, lost + why, null, c.code), client.room);
    return;
  }
  retryButton.hidden = s !== "closed";
  if (s === "connected") {
    if (client.joinKind === "rejoined" && noticedConnect !== client.stats.connects) {
      // Back after a drop, but as a new player: say so for a moment over the game.
      noticedConnect = client.stats.connects;
      clearTimeout(noticeTimer);
      statusEl.dataset.state = "notice";
      statusText.textContent = "Back in the room as a new player: the server had not kept your player (its score starts again).";
      statusEl.hidden = false;
      noticeTimer = setTimeout(() => {
        if (client && client.state === "connected" && statusEl.dataset.state === "notice") statusEl.hidden = true;
      }, 5000);
    } else if (statusEl.dataset.state !== "notice") {
      statusEl.hidden = true;
    }
    showRoom();
    return;
  }
  statusEl.dataset.state = s;
  statusEl.hidden = false;
  let text;
  const lost = client.lastClose;
  if (s === "connecting" && lost && lost.errorCode === "session_expired") {
    text = "Reconnecting… The server no longer kept your player (session_expired): joining the room again as a new player…";
  } else if (s === "connecting") {
    text = client.attempt ? `Reconnecting… ${describeClose(lost)} Attempt ${client.attempt + 1}…` : `Connecting to ${serverUrl}…`;
  } else if (s === "reconnecting") {
    // with a token, the server keeps this player (away) meanwhile and the same player comes back
    const secs = Math.max(0, (client.retryAt - performance.now()) / 1000).toFixed(1);
    const as = client.spectate ? " as a spectator" : client.sessionToken ? ` as ${client.name}` : "";
    text = `Reconnecting${as}… ${describeClose(lost)} Next attempt in ${secs} s (attempt ${client.attempt + 1}).`;
  } else if (s === "closed" && lost && lost.errorCode === "session_replaced") {
    text = "This player is now played from another tab or window (session_replaced), so this page stopped. Reconnect joins here as a new player.";
  } else if (s === "closed") {
    text = `${describeClose(lost)} Not reconnecting by itself: the server would refuse this page again the same way.`;
    if (lost && lost.kind === "local") text = "Disconnected.";
  } else {
    text = "";
  }
  statusText.textContent = text;
}

let scoresShown = "";
const scoreRows = new Map(); // player id -> its line's element, kept so a button keeps the focus
const scoreHead = document.createElement("span");
scoreHead.className = "score-head";

/**
 * The scoreboard, a line per player: ▶ marks this player, or for a spectator the player it
 * follows; a spectator's lines are buttons that follow their player.
 */
function updateScores() {
  const lines = client && client.state === "connected" ? client.scoreboard.slice(0, 8) : [];
  const spectating = !!(client && client.spectate);
  const marked = !client ? null : spectating ? client.following : client.myId;
  const texts = lines.map(
    (l) => `${marked !== null && l.id === marked ? "▶ " : "  "}${l.name.padEnd(16).slice(0, 16)} ${String(l.score).padStart(3)} / ${l.deaths}${l.away ? " (away)" : ""}`,
  );
  const key = JSON.stringify([spectating, lines.map((l) => l.id), texts]);
  if (key === scoresShown) return;
  scoresShown = key;
  scoresEl.hidden = lines.length === 0;
  scoresEl.dataset.spectating = spectating ? "1" : "";
  scoreHead.textContent = spectating ? "kills / deaths · click to follow" : "kills / deaths";
  const tag = spectating ? "BUTTON" : "SPAN";
  const wanted = [scoreHead];
  lines.forEach((l, i) => {
    let el = scoreRows.get(l.id);
    if (!el || el.tagName !== tag) {
      el = document.createElement(tag);
      el.className = "score-line";
      el.dataset.id = String(l.id);
      if (spectating) el.type = "button";
      scoreRows.set(l.id, el);
    }
    el.textContent = texts[i];
    if (spectating) {
      el.setAttribute("aria-pressed", String(l.id === marked));
      el.setAttribute("aria-label", `Follow ${l.name}: ${l.score} kills, ${l.deaths} deaths`);
    }
    wanted.push(el);
  });
  const keep = new Set(wanted);
  for (const [id, el] of scoreRows) {
    if (!keep.has(el)) {
      el.remove();
      scoreRows.delete(id);
    }
  }
  for (const node of [...scoresEl.childNodes]) if (!keep.has(node)) node.remove(); // e.g. text
  // in order, moving only what is out of place (a moved button would lose the keyboard focus)
  wanted.forEach((el, i) => {
    if (scoresEl.childNodes[i] !== el) scoresEl.insertBefore(el, scoresEl.childNodes[i] ?? null);
  });
}

scoresEl.addEventListener("click", (ev) => {
  const button = ev.target.closest("button.score-line[data-id]");
  if (button && client && client.spectate) client.follow(Number(button.dataset.id));
});

/** "spectating NAME" or "waiting for players" over the game while watching. */
function updateSpectating(entities) {
  const show = !!(client && client.spectate && client.state === "connected" && !lobby.visible);
  const text = show
    ? spectateLine({ known: client.followKnown, following: client.following, scoreboard: client.scoreboard, entities })
    : "";
  if (spectateEl.textContent !== text) spectateEl.textContent = text;
  spectateEl.hidden = !show;
}

function updateHud() {
  hudEl.hidden = lobby.visible;
  if (!client || client.state !== "connected") {
    hudEl.textContent = client ? `● ${client.state}` : "";
    hudEl.dataset.state = client ? client.state : "";
    return;
  }
  hudEl.dataset.state = "connected";
  if (client.spectate) {
    hudEl.textContent = `● connected · watching · ${client.mirror.entities.size} playing · click a name on the scoreboard to follow · F3 debug`;
    return;
  }
  const me = client.myId === null ? undefined : client.mirror.entities.get(client.myId);
  const hp = me ? me.hp : 0;
  hudEl.textContent = `● connected · ${client.mirror.entities.size} playing · hp ${hp}${hp <= 0 ? " (respawning)" : ""} · WASD/arrows move · mouse aims · click fires · F3 debug`;
}

// --- the map and own death ---------------------------------------------------------------

/** Load the map the server names, once; hand it to the session for predicting against walls. */
function ensureMap() {
  if (!client || !client.welcome) return;
  const want = client.welcome.map;
  if (want !== mapState.name) {
    mapState = { name: want, status: want === null ? "none" : "loading", map: null, view: null, error: null };
    if (want !== null) {
      loadMap(want)
        .then((map) => {
          if (mapState.name !== want) return;
          mapState = { ...mapState, status: "loaded", map, view: new MapView(map) };
        })
        .catch((err) => {
          if (mapState.name !== want) return;
          mapState = { ...mapState, status: "failed", error: String(err) };
          console.warn("gameserver: cannot load the map:", err);
        });
    }
  }
  if (client.map !== mapState.map) client.setMap(mapState.map);
}

/** The text over the view while this player is dead: who shot them, and the respawn countdown. */
function deathNotice(now) {
  const me = client && client.state === "connected" && client.myId !== null ? client.mirror.entities.get(client.myId) : null;
  if (!me || me.hp > 0) {
    death = null;
    return null;
  }
  if (death === null) {
    // The shot that killed us came in the snapshot that said so: the newest that hit us.
    const shot = client.lastHitBy;
    const killer = shot ? client.mirror.entities.get(shot.shooter) : null;
    death = { tick: client.mirror.tick, by: killer ? killer.name : null };
  }
  const tick = client.clock ? client.clock.tickAt(now) : null;
  const left = tick === null ? client.rules.respawn_ticks : death.tick + client.rules.respawn_ticks - tick;
  const secs = Math.max(0, Math.ceil(left / client.welcome.tickRate));
  return `${death.by ? `Shot down by ${death.by}` : "Shot down"} · respawning in ${secs} s`;
}

/** How far a shot goes before a wall (for the tracer), at most the weapon's range. */
function shotLength(x, y, aim) {
  const range = client.rules.weapon_range;
  return mapState.map ? wallDistance(mapState.map.walls, x, y, aim, range) : range;
}

// --- what is drawn -------------------------------------------------------------------------

/** The entities as drawn at `now` (view.js): the others interpolated, this player predicted. */
function viewEntities(now, options) {
  return drawnEntities(client, now, options);
}

function ownScreenPosition() {
  if (!client || !client.rules || client.myId === null) return null;
  const e = viewEntities(performance.now()).get(client.myId);
  if (!e) return null;
  const cam = camera(size.width, size.height, client.rules, e);
  return cam.toScreen(e.x, e.y);
}

/**
 * What the camera centres on for `entities` as drawn: this player; for a spectator the player
 * it follows (null: the middle of the world).
 */
function cameraFocus(entities) {
  if (client && client.spectate) return spectatorCamera.update(entities, client.following);
  return client && client.myId !== null ? entities.get(client.myId) : undefined;
}

function resize() {
  size = fitCanvas(canvas, size);
}

function frame() {
  const now = performance.now();
  const elapsed = frames.frame(now);
  resize();
  ensureMap();
  if (client && client.predictor) client.predictor.decay(elapsed);
  const entities = viewEntities(now, { count: true });
  if (client && client.rules) {
    const me = client.myId === null ? undefined : entities.get(client.myId);
    // Own shots are drawn when the trigger is pulled, as the weapon's rate allows; the server's
    // shots of the others when the render time reaches the tick they were fired at.
    const shooting = client.lastInput.buttons & 1;
    if (me && me.hp > 0 && shooting && now >= nextShotAt && client.state === "connected") {
      tracers.push({ x: me.x, y: me.y, aim: client.lastInput.aim, at: now, length: shotLength(me.x, me.y, client.lastInput.aim) });
      nextShotAt = now + client.rules.fire_interval_ticks * (1000 / client.welcome.tickRate);
    }
    const rt = client.renderTick(now);
    while (client.shots.length && rt !== null && client.shots[0].tick <= rt + 1) {
      const shot = client.shots.shift();
      const from = entities.get(shot.shooter);
      const target = shot.hit !== null ? entities.get(shot.hit) : undefined;
      if (shot.hit !== null) flashes.set(shot.hit, now);
      if (!from || (client.myId !== null && shot.shooter === client.myId)) continue;
      const aim = target ? Math.atan2(target.y - from.y, target.x - from.x) : (from.angle * 2 * Math.PI) / 256;
      const length = target ? Math.hypot(target.x - from.x, target.y - from.y) : shotLength(from.x, from.y, aim);
      tracers.push({ x: from.x, y: from.y, aim, at: now, length });
    }
    for (const [id, e] of entities) {
      const before = hpSeen.get(id);
      if (before !== undefined && e.hp < before) flashes.set(id, now);
      hpSeen.set(id, e.hp);
    }
  }
  updateScores();
  updateSpectating(entities);
  const focus = cameraFocus(entities);
  while (tracers.length && now - tracers[0].at > 120) tracers.shift();
  for (const [id, t] of flashes) if (now - t > 120) flashes.delete(id);
  draw(ctx, {
    width: size.width,
    height: size.height,
    dpr: size.dpr,
    rules: client ? client.rules : null,
    entities,
    myId: client ? client.myId : null,
    myAim: client ? client.lastInput.aim : null,
    tracers: tracers.map((t) => ({ ...t, age: (now - t.at) / 120 })),
    flashes: new Map([...flashes].map(([id, t]) => [id, 1 - (now - t) / 120])),
    mapView: client && client.welcome && mapState.name === client.welcome.map ? mapState.view : null,
    notice: deathNotice(now),
    focus: focus ?? null,
    followId: client && client.spectate ? client.following : null,
  });
  if (client && client.state === "reconnecting") showStatus(); // the countdown
  updateHud();
  debug.update(client, now, frames.fps);
  requestAnimationFrame(frame);
}

// --- window.game: the page's state, for the console and the tests ------------------------------

const status = { el: statusEl, text: statusText };
const game = extendHooks(gameHooks(() => client, { serverUrl, interpDelayMs, status, fps: () => frames.fps, debug }), {
  /** The server's map as loaded: {name, status, walls (solid tile count), cols, rows, tile}. */
  get map() {
    const m = mapState.map;
    return {
      name: mapState.name,
      status: mapState.status,
      error: mapState.error,
      walls: m ? m.walls.count : 0,
      cols: m ? m.cols : 0,
      rows: m ? m.rows : 0,
      tile: m ? m.tile : 0,
      tilesets: m ? m.images.size : 0,
      predictsWalls: !!(client && client.predictor && client.predictor.walls),
    };
  },
  /** Whether a player standing at (x, y) would overlap a wall of the map (null: no map). */
  overlapsWall(x, y) {
    const m = mapState.map;
    return m && client && client.rules ? overlapsWall(m.walls, x, y, client.rules.player_radius) : null;
  },
  /** The shots drawn now: [{x, y, aim, length}] (length: to the target, a wall, or the range). */
  get tracers() {
    return tracers.map(({ x, y, aim, length }) => ({ x, y, aim, length }));
  },
  /** This player's death as shown: {text, tick} while dead, else null. */
  get death() {
    return death ? { ...death, text: deathNotice(performance.now()) } : null;
  },
  /** Canvas pixels (CSS) of a world point, with the camera as drawn now. */
  toScreen(x, y) {
    if (!client || !client.rules) return null;
    return camera(size.width, size.height, client.rules, cameraFocus(viewEntities(performance.now())) ?? null).toScreen(x, y);
  },
  /** The world point at the canvas centre now ({x, y}): this player, or the player followed. */
  get camera() {
    if (!client || !client.rules) return null;
    const cam = camera(size.width, size.height, client.rules, cameraFocus(viewEntities(performance.now())) ?? null);
    return { x: cam.x, y: cam.y };
  },
  /** Whether this page watches without playing (?spectate=1). */
  get spectating() {
    return !!(client && client.spectate);
  },
  /** A spectator: the id of the player followed, as the server said (FOLLOWING); null: nobody. */
  get following() {
    return client ? client.following : null;
  },
  /** The line shown over the game while spectating ("spectating NAME"), or "". */
  get spectateText() {
    return spectateEl.hidden ? "" : spectateEl.textContent;
  },
  /** A spectator asks to follow player `id` (null: the server picks), as a click on its name does. */
  follow: (id) => (client ? client.follow(id) : false),
  watch,
  /**
   * The room played in: {id, map, private (null: not known, joined by HELLO alone), how: "quick",
   * "create" or "join" (matchmaking), "hello" (HELLO alone) or "watch" (a spectator), link: the
   * link to share}.
   */
  get room() {
    const w = client && client.welcome;
    if (!w) return null;
    return { id: w.room, map: w.map, private: joined ? joined.private : null, how: joined ? joined.kind : "hello", link: roomLink.value };
  },
  /**
   * The lobby as shown: {visible, busy, error: {code, message, status (HTTP), close (WebSocket)},
   * invite, rooms, maps, defaultMap, map}.
   */
  get lobby() {
    return lobby.state;
  },
  join: start,
});
window.game = game;

const named = params.get("name");
const startName = named === null ? null : cleanName(named);
const invited = (params.get("room") || "").trim().slice(0, 32) || null;
const spectating = spectateFromSearch(location.search);
if (spectating !== null) {
  // ?spectate=1: watch ?room=ID, or the busiest public room; a refusal opens the lobby saying why
  watch(spectating.room);
} else if (startName !== null && invited !== null) {
  // ?room=ID&name=NAME: a seat in that room at once; a refusal opens the lobby saying why
  nameInput.value = startName;
  statusEl.hidden = false;
  statusText.textContent = `Joining room ${invited}…`;
  joinWithSeat("join", { room: invited }, startName).catch((err) => {
    if (!(err instanceof LobbyError)) throw err;
    backToLobby(err, invited);
  });
} else if (startName !== null) {
  // ?name=NAME: quick play at once, through matchmaking (in a cluster, the seat may be elsewhere)
  joinWithSeat("quick", {}, startName).catch((err) => {
    if (!(err instanceof LobbyError)) throw err;
    backToLobby(err, null);
  });
} else {
  showLobby({ invite: invited });
}
requestAnimationFrame(frame);
