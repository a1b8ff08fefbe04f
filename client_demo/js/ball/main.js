// The ball game's page: the client library (client.js) with the ball game's parts (rules.js
// BALL_CLIENT), the keyboard and mouse, and the drawing (render.js); the page's state is exposed
// on window.game for people with a console and for the browser tests.
//
// Query parameters: ?name=NAME joins at once by quick play (without it, a form asks for a name);
// ?server=ws://HOST:PORT/ws connects elsewhere than this page's server; ?interp=MS sets the
// interpolation delay (default 100, or two snapshot intervals if that is longer); ?debug=1 opens
// the debug overlay (debug.js; F3 or ` toggles it).
//
// Invariants:
// - The others and the ball are drawn interpolated (the library's SnapshotBuffer, at its render
//   tick); the own player is drawn where its prediction puts it (BallPredictor, the server's
//   movement rule), so its keys answer at once.
// - The aim is towards the mouse once it has moved over the field, else towards the ball as
//   drawn; buttons bit 0 (Space or the left button) asks the server for a kick.
// - The score is what the goal entities carry; a goal event is shown ("GOAL") when the render
//   tick reaches the tick it happened at, as the ball drawn reaches the net.

import { GameClient } from "../client.js";
import { DebugOverlay, FrameRate } from "../debug.js";
import { extendHooks, gameHooks } from "../hooks.js";
import { InputState } from "../input.js";
import { LobbyError, httpBase, matchmake } from "../lobby.js";
import { cleanName } from "../rules.js";
import { drawnEntities, fitCanvas } from "../view.js";
import { TEAM_NAMES, draw, fieldView } from "./render.js";
import { BALL_CLIENT, kindIds, readGoal, scoreOf } from "./rules.js";

const FLASH_MS = 1500; // how long a goal is shown

const params = new URLSearchParams(location.search);
const interpDelayMs = clampInt(params.get("interp"), 0, 1000, null); // null: automatic
const serverUrl = params.get("server") || `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;

const canvas = document.getElementById("view");
const ctx = canvas.getContext("2d");
const hudEl = document.getElementById("hud");
const statusEl = document.getElementById("status");
const statusText = document.getElementById("status-text");
const retryButton = document.getElementById("retry");
const debugEl = document.getElementById("debug");
const joinForm = document.getElementById("join");
const nameInput = document.getElementById("name");
const nameError = document.getElementById("name-error");

const input = new InputState(window, canvas);
let client = null;
let size = { width: 0, height: 0, dpr: 1 };
const goals = []; // goal events shown: [{tick, goal, scorer, team, at}], newest last
let flash = null; // the newest goal while it is shown: {team, at}
const frames = new FrameRate(performance.now());
const debug = new DebugOverlay(debugEl, { visible: params.get("debug") === "1" });

function clampInt(text, lo, hi, fallback) {
  const v = Number.parseInt(text ?? "", 10);
  return Number.isFinite(v) ? Math.min(Math.max(v, lo), hi) : fallback;
}

// --- joining ------------------------------------------------------------------------------

/**
 * Play as `name`: a seat by quick play over HTTP (POST /matchmake/quick), then the game at the
 * url the answer names: this server, or in a cluster the process that holds the room.
 */
async function start(name) {
  joinForm.hidden = true;
  try {
    localStorage.setItem("gameserver.name", name);
  } catch {
    // storage may be off: the name is just not remembered
  }
  if (client) {
    client.onChange = () => {};
    client.disconnect();
  }
  goals.length = 0;
  flash = null;
  statusEl.dataset.state = "seating";
  statusText.textContent = "Finding a place…";
  statusEl.hidden = false;
  let seat;
  try {
    seat = await matchmake(httpBase(serverUrl), "quick", {});
  } catch (err) {
    if (!(err instanceof LobbyError)) throw err;
    statusEl.dataset.state = "refused";
    statusText.textContent = err.message;
    joinForm.hidden = false;
    return;
  }
  let url = typeof seat.url === "string" && /^wss?:\/\//.test(seat.url) ? seat.url : serverUrl;
  // a page served over https (behind a TLS proxy) may only open wss://
  if (location.protocol === "https:" && url.startsWith("ws://")) url = "wss://" + url.slice(5);
  client = new GameClient({
    url,
    name,
    room: seat.room,
    seat: seat.seat,
    interpDelayMs,
    readInput,
    onChange: showStatus,
    ...BALL_CLIENT,
  });
  client.connect();
  canvas.focus();
}

function showForm() {
  let remembered = "";
  try {
    remembered = localStorage.getItem("gameserver.name") || "";
  } catch {
    // no storage: an empty field
  }
  nameInput.value = remembered;
  joinForm.hidden = false;
  nameInput.focus();
}

joinForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const name = cleanName(nameInput.value);
  if (name === null) {
    nameError.textContent = "A name is 1 to 24 printable characters.";
    return;
  }
  nameError.textContent = "";
  start(name);
});

retryButton.addEventListener("click", () => {
  if (client) client.connect();
});

function showStatus() {
  if (!client) return;
  const s = client.state;
  retryButton.hidden = s !== "closed";
  if (s === "connected") {
    statusEl.hidden = true;
    return;
  }
  const c = client.lastClose;
  const why = c ? c.errorCode || c.reason || c.kind : "";
  let text;
  if (s === "connecting") text = client.attempt ? `Reconnecting… attempt ${client.attempt + 1}` : `Connecting to ${client.url}…`;
  else if (s === "reconnecting") text = `Connection lost${why ? ` (${why})` : ""}. Reconnecting…`;
  else if (s === "closed") text = `Disconnected${why ? `: ${why}${c.message ? ` (${c.message})` : ""}` : ""}.`;
  else text = s;
  statusEl.dataset.state = s;
  statusText.textContent = text;
  statusEl.hidden = false;
}

// --- input --------------------------------------------------------------------------------

/** The INPUT fields: the keys' move, the aim at the mouse or else at the ball, the kick. */
function readInput() {
  const got = input.read(ownScreenPosition());
  if (!input.mouse) {
    const entities = viewEntities(performance.now());
    const me = client && client.myId !== null ? entities.get(client.myId) : undefined;
    const ball = ballOf(entities);
    if (me && ball && (ball.x !== me.x || ball.y !== me.y)) got.aim = Math.atan2(ball.y - me.y, ball.x - me.x);
  }
  return got;
}

// --- what is drawn ------------------------------------------------------------------------

function kinds() {
  return client ? kindIds(client.mirror.schema) : { player: null, ball: null, goal: null };
}

/** The entities as drawn at `now` (view.js): the others and the ball interpolated, this player predicted. */
function viewEntities(now, options) {
  return drawnEntities(client, now, options);
}

function ballOf(entities) {
  const k = kinds().ball;
  for (const e of entities.values()) if (e.kind === k) return e;
  return undefined;
}

function ownScreenPosition() {
  if (!client || !client.rules || client.myId === null) return null;
  const e = viewEntities(performance.now()).get(client.myId);
  return e ? fieldView(size.width, size.height, client.rules).toScreen(e.x, e.y) : null;
}

function resize() {
  size = fitCanvas(canvas, size);
}

/** Goal events whose tick the render time reached: shown now. */
function takeGoals(entities, now) {
  const rt = client.renderTick(now);
  while (client.shots.length && rt !== null && client.shots[0].tick <= rt + 1) {
    const goal = { ...readGoal(client.shots.shift(), entities), at: now };
    goals.push(goal);
    if (goals.length > 32) goals.shift();
    flash = { team: goal.team, at: now };
  }
}

function frame() {
  const now = performance.now();
  const elapsed = frames.frame(now);
  resize();
  if (client && client.predictor) client.predictor.decay(elapsed);
  const entities = viewEntities(now, { count: true });
  if (client && client.rules) takeGoals(entities, now);
  if (flash && now - flash.at > FLASH_MS) flash = null;
  draw(ctx, {
    width: size.width,
    height: size.height,
    dpr: size.dpr,
    rules: client ? client.rules : null,
    kinds: kinds(),
    entities,
    myId: client ? client.myId : null,
    myAim: client ? client.lastInput.aim : null,
    score: scoreOf(entities, kinds().goal),
    flash: flash ? { team: flash.team, age: (now - flash.at) / FLASH_MS } : null,
    notice: client && client.state !== "connected" && client.state !== "idle" ? `● ${client.state}` : null,
  });
  updateHud(entities);
  debug.update(client, now, frames.fps);
  requestAnimationFrame(frame);
}

function updateHud(entities) {
  hudEl.hidden = !client;
  if (!client) return;
  hudEl.dataset.state = client.state;
  if (client.state !== "connected") {
    hudEl.textContent = `● ${client.state}`;
    return;
  }
  const me = client.myId === null ? undefined : entities.get(client.myId);
  const team = me ? `${TEAM_NAMES[me.team]} team · ` : "";
  hudEl.textContent = `● connected · ${team}WASD/arrows move · mouse aims (else at the ball) · Space/click kicks · F3 debug`;
}

// --- window.game: the page's state, for the console and the tests ------------------------------

const status = { el: statusEl, text: statusText };
const game = extendHooks(gameHooks(() => client, { serverUrl, interpDelayMs, status, fps: () => frames.fps, debug }), {
  name: "ball",
  /** The kind ids of the schema: {player, ball, goal}. */
  get kinds() {
    return kinds();
  },
  /** The ball as drawn now, or null. */
  get ball() {
    const b = ballOf(viewEntities(performance.now()));
    return b ? { ...b } : null;
  },
  /** The score as the goals carry it in the newest snapshot: {red, blue}. */
  get score() {
    return client && client.rules ? scoreOf(client.mirror.frame(client.rules.quanta), kinds().goal) : { red: 0, blue: 0 };
  },
  /** The goals shown so far: [{tick, goal (the goal scored in), scorer (or null), team (that scored)}]. */
  get goals() {
    return goals.map(({ tick, goal, scorer, team }) => ({ tick, goal, scorer, team }));
  },
  /** The goal being shown ("GOAL"): {team, text}, or null. */
  get flash() {
    return flash ? { team: flash.team, text: flash.team === null ? "GOAL!" : `GOAL! ${TEAM_NAMES[flash.team]}` } : null;
  },
  /** Canvas pixels (CSS) of a world point. */
  toScreen(x, y) {
    return client && client.rules ? fieldView(size.width, size.height, client.rules).toScreen(x, y) : null;
  },
  get joinVisible() {
    return !joinForm.hidden;
  },
  join: start,
});
window.game = game;

const named = params.get("name");
const startName = named === null ? null : cleanName(named);
if (startName !== null) start(startName);
else showForm();
requestAnimationFrame(frame);
