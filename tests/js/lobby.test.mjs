// lobby.js's functions that touch no DOM: where its requests go, what a refusal says, and the
// links it makes. The requests themselves meet the real server in tests/test_browser.py.
import { test } from "node:test";
import assert from "node:assert/strict";

import { LobbyError, explain, httpBase, isFull, matchmake, requestJson, shareLink, withRoom } from "../../client_demo/js/lobby.js";

test("the HTTP base comes from the WebSocket URL", () => {
  assert.equal(httpBase("ws://127.0.0.1:8000/ws"), "http://127.0.0.1:8000");
  assert.equal(httpBase("wss://game.example:443/ws"), "https://game.example");
  assert.equal(httpBase("wss://game.example:8443/play/ws"), "https://game.example:8443");
  assert.throws(() => httpBase("ftp://x/ws"), TypeError);
});

test("refusals read as sentences that keep their code", () => {
  for (const code of ["room_not_found", "room_full", "room_disposed", "invalid_seat", "server_full", "too_many_rooms", "rate_limited", "unknown_map"]) {
    const text = explain(code, "x");
    assert.ok(text.endsWith(`(${code})`) && text.length > code.length + 20, text);
  }
  assert.equal(explain("new_code", "what the server said"), "what the server said (new_code)");
});

// Node's own fetch Response, as the server would send it.
const answer = (status, body, headers = {}) => async () =>
  new Response(typeof body === "string" ? body : JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

test("an error answer becomes a LobbyError with the server's code; Retry-After is said", async () => {
  const full = answer(409, { error: "room_full", message: "room r-1 is full" });
  await assert.rejects(matchmake("http://h", "join", { room: "r-1" }, { fetchImpl: full }), (err) => {
    assert.ok(err instanceof LobbyError);
    assert.equal(err.code, "room_full");
    assert.equal(err.status, 409);
    assert.match(err.message, /full.*\(room_full\)/);
    return true;
  });
  const limited = answer(429, { error: "rate_limited", message: "slow down" }, { "Retry-After": "12" });
  await assert.rejects(matchmake("http://h", "create", {}, { fetchImpl: limited }), /Try again in 12 s/);
  const old = answer(404, "<html>not found</html>", { "Content-Type": "text/html" });
  await assert.rejects(requestJson("http://h", "/rooms", { fetchImpl: old }), (err) => err.code === "http_404");
  const down = async () => {
    throw new TypeError("fetch failed");
  };
  await assert.rejects(requestJson("http://h", "/rooms", { fetchImpl: down }), (err) => err.code === "unreachable" && /http:\/\/h/.test(err.message));
});

test("a seat answer without a seat is refused", async () => {
  await assert.rejects(matchmake("http://h", "quick", {}, { fetchImpl: answer(200, { room: "r-1" }) }), (err) => err.code === "bad_answer");
  const seat = await matchmake("http://h", "quick", {}, { fetchImpl: answer(200, { room: "r-1", seat: "s", url: "ws://h/ws" }) });
  assert.equal(seat.seat, "s");
});

test("a room counts its reserved seats toward full", () => {
  assert.equal(isFull({ players: 7, reserved: 0, max_players: 8 }), false);
  assert.equal(isFull({ players: 7, reserved: 1, max_players: 8 }), true);
});

test("the address keeps its parameters; the share link keeps only the room and the server", () => {
  const page = "http://h:8000/?name=Al&debug=1";
  assert.equal(withRoom(page, "r-1"), "http://h:8000/?name=Al&debug=1&room=r-1");
  assert.equal(withRoom("http://h:8000/?room=r-1&name=Al", null), "http://h:8000/?name=Al");
  assert.equal(shareLink(page, "r-1"), "http://h:8000/?room=r-1");
  assert.equal(shareLink("http://h/?name=Al&server=ws%3A%2F%2Fg%3A9%2Fws", "r-2"), "http://h/?room=r-2&server=ws%3A%2F%2Fg%3A9%2Fws");
});
