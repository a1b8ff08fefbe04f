// The lobby: finding a room over HTTP before playing (docs/protocol.md, "Rooms").
//
// Matchmaking answers a seat: {room, map, private, seat, expires_in, url, players, max_players}.
// The page then opens the WebSocket at `url` and sends HELLO with that room and seat. Every
// refusal is JSON {error, message}; this module turns it, and a server it cannot reach, into a
// LobbyError whose text a player can read.
//
// Invariants:
// - The room list is polled every POLL_MS only while the lobby is shown, one request at a time;
//   an answer that comes back after the lobby was hidden is dropped.
// - One matchmaking request at a time: the buttons are disabled until it is answered, so a
//   double click does not reserve two seats.
// - Rows of the room list are kept by room id and updated in place, so a poll never takes the
//   keyboard focus away from a Join button. Each row also has a Watch link, to ?room=ID&spectate=1:
//   watching takes no seat, so it is there for full rooms too.
// The functions above the Lobby class touch no DOM (Node's test runner loads this module).

export const POLL_MS = 2000;

/** A refusal to show: `status` is the HTTP status, or `close` the WebSocket's close code. */
export class LobbyError extends Error {
  constructor(code, message, status = null, close = null) {
    super(message);
    this.code = code;
    this.status = status;
    this.close = close;
  }
}

/** The HTTP origin of a WebSocket URL: ws://H:P/ws -> http://H:P, wss:// -> https://. */
export function httpBase(serverUrl) {
  const url = new URL(serverUrl);
  const scheme = { "ws:": "http:", "wss:": "https:", "http:": "http:", "https:": "https:" }[url.protocol];
  if (!scheme) throw new TypeError(`not a WebSocket URL: ${serverUrl}`);
  return `${scheme}//${url.host}`;
}

// What each refusal means for the player, and what to do next. The code stays in the text, in
// parentheses, so a report of it says exactly which refusal it was.
const EXPLAIN = {
  room_not_found: "That room does not exist (any more). Pick another one, or start your own.",
  room_full: "That room is full. Pick another one, or use Quick play.",
  room_disposed: "That room was closed after everyone left. Pick another one, or start your own.",
  invalid_seat: "The place kept for you in that room expired before the game connected. Try again.",
  server_full: "The server is full right now. Try again in a moment.",
  too_many_rooms: "The server holds as many rooms as it can. Join one of the rooms listed.",
  rate_limited: "Too many rooms were created from here in the last minute. Wait a little, or join one.",
  unknown_map: "The server has no such map. Pick one from the list.",
};

/** A readable sentence for an error code and the server's own message. */
export function explain(code, message = "") {
  const known = EXPLAIN[code];
  if (known) return `${known} (${code})`;
  return message ? `${message} (${code})` : `The server refused: ${code}.`;
}

/**
 * The same for a refusal to watch a room: `room` is the room asked for, null when the page asked
 * for the busiest public room.
 */
export function explainSpectate(code, message = "", room = null) {
  if (code === "room_not_found" && room === null) {
    return `No public room has anyone playing right now, so there is nothing to watch. Start one, or try again later. (${code})`;
  }
  if (code === "room_full") return `That room has as many spectators as it takes. Try again later, or join it. (${code})`;
  return explain(code, message);
}

/** One JSON request; resolves to the answer's object, or rejects with a LobbyError. */
export async function requestJson(base, path, { method = "GET", body = undefined, fetchImpl = fetch } = {}) {
  const init = { method, headers: { Accept: "application/json" }, cache: "no-store" };
  // The JSON goes without a Content-Type of its own (fetch says text/plain): a request the
  // browser sends to another origin (?server=) without asking first (no CORS preflight).
  if (body !== undefined) init.body = JSON.stringify(body);
  let response;
  try {
    response = await fetchImpl(`${base}${path}`, init);
  } catch {
    // fetch tells a server that is down and one of another origin refusing this page apart
    // by nothing: name both when the page is from elsewhere
    const origin = globalThis.location ? globalThis.location.origin : null;
    const cors = origin && origin !== base ? ` (or it does not answer pages from ${origin})` : "";
    throw new LobbyError("unreachable", `Cannot reach the server at ${base}${cors}.`);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const code = data && typeof data.error === "string" ? data.error : `http_${response.status}`;
    let message = explain(code, data && typeof data.message === "string" ? data.message : response.statusText);
    const retry = response.headers && response.headers.get ? response.headers.get("Retry-After") : null;
    if (retry) message += ` Try again in ${retry} s.`;
    throw new LobbyError(code, message, response.status);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new LobbyError("bad_answer", `The server's answer to ${path} is not a JSON object: does it have rooms?`);
  }
  return data;
}

/** POST /matchmake/<kind> (quick, create or join): a seat, or a LobbyError. */
export async function matchmake(base, kind, body, options = {}) {
  const seat = await requestJson(base, `/matchmake/${kind}`, { ...options, method: "POST", body });
  if (typeof seat.room !== "string" || typeof seat.seat !== "string") {
    throw new LobbyError("bad_answer", "The server's matchmaking answer has no room or seat.");
  }
  return seat;
}

/** GET /rooms: {rooms: [{id, map, players, reserved, max_players, spectators, created}], maps, defaultMap}. */
export async function listRooms(base, options = {}) {
  const data = await requestJson(base, "/rooms", options);
  const rooms = Array.isArray(data.rooms) ? data.rooms.filter((r) => r && typeof r.id === "string") : [];
  const maps = Array.isArray(data.maps) ? data.maps.filter((m) => typeof m === "string") : [];
  return { rooms, maps, defaultMap: typeof data.default_map === "string" ? data.default_map : null };
}

/** A room takes no one more when its players and the seats reserved in it fill it. */
export function isFull(room) {
  return (room.players ?? 0) + (room.reserved ?? 0) >= (room.max_players ?? 0);
}

/**
 * The page's address with `room` set to `roomId` (or removed, for null), other parameters kept:
 * history.replaceState() takes it, so that a reload rejoins the room.
 */
export function withRoom(href, roomId) {
  const url = new URL(href);
  if (roomId === null) url.searchParams.delete("room");
  else url.searchParams.set("room", roomId);
  return url.href;
}

/** The address with ?spectate=1 (on) or without it (off), other parameters kept. */
export function withSpectate(href, on) {
  const url = new URL(href);
  if (on) url.searchParams.set("spectate", "1");
  else url.searchParams.delete("spectate");
  return url.href;
}

/** The page that watches room `roomId`: this page's address with ?room=ID&spectate=1, without ?name=. */
export function watchLink(href, roomId) {
  const url = new URL(withSpectate(withRoom(href, roomId), true));
  url.searchParams.delete("name"); // this page's name, not the link's
  return url.href;
}

/** The link to give to others: this page with ?room=ID, and ?server= when the page has one. */
export function shareLink(href, roomId) {
  const page = new URL(href);
  const url = new URL(page.pathname, page.origin);
  url.searchParams.set("room", roomId);
  const server = page.searchParams.get("server");
  if (server) url.searchParams.set("server", server);
  return url.href;
}

// --- the dialog ---------------------------------------------------------------------------

/**
 * The lobby dialog of index.html. `join(kind, body)` is the page's: it runs matchmaking with
 * the name checked by `readName()` and starts playing, or rejects with a LobbyError to show.
 */
export class Lobby {
  constructor({
    document,
    base,
    readName,
    join,
    fetchImpl = (...a) => fetch(...a),
    setTimer = (fn, ms) => setTimeout(fn, ms),
    clearTimer = (id) => clearTimeout(id),
  }) {
    Object.assign(this, { base, readName, join, fetchImpl, setTimer, clearTimer });
    const $ = (id) => document.getElementById(id);
    this.doc = document;
    this.el = {
      form: $("join"),
      error: $("lobby-error"),
      name: $("name"),
      map: $("map"),
      quick: $("quick"),
      create: $("create"),
      private: $("private"),
      invite: $("invite"),
      inviteRoom: $("invite-room"),
      inviteJoin: $("invite-join"),
      roomsStatus: $("rooms-status"),
      rooms: $("rooms"),
      roomsBody: $("rooms").querySelector("tbody"),
    };
    this.visible = false;
    this.busy = false;
    this.timer = null;
    this.polling = false;
    this.rows = new Map(); // room id -> <tr>
    this.list = { rooms: [], maps: [], defaultMap: null, error: null, at: null };
    this.invite = null; // a room id from ?room=, offered first
    this.error = null; // {code, message} shown

    this.el.form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this._run("quick", () => (this.el.map.value ? { map: this.el.map.value } : {}));
    });
    this.el.create.addEventListener("click", () =>
      this._run("create", () => ({ ...(this.el.map.value ? { map: this.el.map.value } : {}), private: this.el.private.checked })),
    );
    this.el.inviteJoin.addEventListener("click", () => this._run("join", () => ({ room: this.invite })));
    this.el.roomsBody.addEventListener("click", (ev) => {
      const button = ev.target.closest("button[data-room]");
      if (button && !button.disabled) this._run("join", () => ({ room: button.dataset.room }));
    });
  }

  /** Show the lobby, with an error to explain (a LobbyError or {code, message}) and a room to offer. */
  show({ error = null, invite = undefined } = {}) {
    if (invite !== undefined) this.invite = invite;
    this.el.invite.hidden = !this.invite;
    this.el.inviteRoom.textContent = this.invite || "";
    this.showError(error);
    this.el.form.hidden = false;
    this.visible = true;
    this._setBusy(false);
    this._poll();
    (this.invite ? this.el.inviteJoin : this.el.name).focus();
    if (!this.invite) this.el.name.select();
  }

  hide() {
    this.visible = false;
    this.el.form.hidden = true;
    this.clearTimer(this.timer);
    this.timer = null;
  }

  showError(error) {
    this.error = error ? { code: error.code, message: error.message, status: error.status ?? null, close: error.close ?? null } : null;
    this.el.error.textContent = error ? error.message : "";
  }

  /** The lobby as shown, for window.game. */
  get state() {
    return {
      visible: this.visible,
      busy: this.busy,
      error: this.error,
      invite: this.invite,
      rooms: this.list.rooms.map((r) => ({ ...r, full: isFull(r) })),
      maps: [...this.list.maps],
      defaultMap: this.list.defaultMap,
      map: this.el.map.value || null,
      listError: this.list.error,
      listedAt: this.list.at,
    };
  }

  async _run(kind, makeBody) {
    if (this.busy) return;
    const name = this.readName();
    if (name === null) return; // the page showed what is wrong with it
    this.showError(null);
    this._setBusy(true);
    try {
      await this.join(kind, makeBody(), name);
    } catch (err) {
      if (!(err instanceof LobbyError)) throw err;
      if (this.visible) this.showError(err);
      this._poll();
    } finally {
      this._setBusy(false);
    }
  }

  _setBusy(busy) {
    this.busy = busy;
    this.el.form.setAttribute("aria-busy", String(busy));
    for (const b of [this.el.quick, this.el.create, this.el.inviteJoin]) b.disabled = busy;
    for (const [, row] of this.rows) this._updateJoinButton(row);
  }

  async _poll() {
    if (!this.visible || this.polling) return;
    this.clearTimer(this.timer);
    this.timer = null;
    this.polling = true;
    try {
      const list = await listRooms(this.base, { fetchImpl: this.fetchImpl });
      this.list = { ...list, error: null, at: Date.now() };
    } catch (err) {
      if (!(err instanceof LobbyError)) throw err;
      this.list = { ...this.list, error: err.message, at: Date.now() };
    } finally {
      this.polling = false;
    }
    if (!this.visible) return;
    this._render();
    this.timer = this.setTimer(() => this._poll(), POLL_MS);
  }

  _render() {
    const { rooms, maps, defaultMap, error } = this.list;
    this._fillMaps(maps, defaultMap);
    const seen = new Set();
    let before = null; // rows follow the server's order (oldest first)
    for (const room of rooms) {
      seen.add(room.id);
      let row = this.rows.get(room.id);
      if (!row) {
        row = this._row(room.id);
        this.rows.set(room.id, row);
      }
      row.room = room;
      row.map.textContent = room.map;
      const watching = room.spectators ? ` · ${room.spectators} watching` : "";
      row.players.textContent = `${room.players}/${room.max_players}${watching}`;
      this._updateJoinButton(row);
      row.watch.href = watchLink(this.doc.location.href, room.id);
      row.watch.setAttribute("aria-label", `Watch room ${room.id} on ${room.map} without playing`);
      const next = before ? before.tr.nextSibling : this.el.roomsBody.firstChild;
      if (next !== row.tr) this.el.roomsBody.insertBefore(row.tr, next);
      before = row;
    }
    for (const [id, row] of this.rows) {
      if (!seen.has(id)) {
        row.tr.remove();
        this.rows.delete(id);
      }
    }
    this.el.rooms.hidden = rooms.length === 0;
    const n = rooms.length;
    this.el.roomsStatus.textContent = error
      ? `Cannot list the rooms: ${error}`
      : n === 0
        ? "No public room yet: Quick play or Create room opens one."
        : `${n} public room${n === 1 ? "" : "s"}, updated every ${POLL_MS / 1000} s.`;
  }

  /** A row of the room list: {tr, map, players, button, watch} (cells), and the room it shows. */
  _row(id) {
    const make = (tag) => this.doc.createElement(tag);
    const row = { tr: make("tr"), map: make("td"), players: make("td"), button: make("button"), watch: make("a"), room: null };
    const action = make("td");
    row.button.type = "button";
    row.button.dataset.room = id;
    row.watch.className = "watch";
    row.watch.dataset.watch = id;
    row.watch.textContent = "Watch";
    action.append(row.watch, row.button);
    row.tr.dataset.room = id;
    row.tr.append(row.map, row.players, action);
    return row;
  }

  _updateJoinButton(row) {
    const { room, button } = row;
    if (!room) return;
    const full = isFull(room);
    button.textContent = full ? "Full" : "Join";
    button.disabled = full || this.busy;
    const waiting = room.reserved ? `, ${room.reserved} joining` : "";
    button.setAttribute(
      "aria-label",
      `${full ? "Full:" : "Join"} room ${room.id} on ${room.map}, ${room.players} of ${room.max_players} playing${waiting}`,
    );
  }

  _fillMaps(maps, defaultMap) {
    const select = this.el.map;
    const have = [...select.options].map((o) => o.value);
    if (maps.length === 0 || (have.length === maps.length && have.every((m, i) => m === maps[i]))) return;
    const chosen = select.value || defaultMap;
    select.replaceChildren(
      ...maps.map((m) => {
        const option = this.doc.createElement("option");
        option.value = m;
        option.textContent = m === defaultMap ? `${m} (default)` : m;
        return option;
      }),
    );
    select.value = maps.includes(chosen) ? chosen : maps[0];
    select.disabled = false;
  }
}
