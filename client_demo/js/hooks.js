// window.game: the page's state for people with a console and for the browser tests. gameHooks()
// makes the part every game page shares, read from the page's GameClient (client.js); a page adds
// its own members with extendHooks(), getters staying getters.
//
// Every getter reads the state of the moment (nothing is cached). What they make (entities,
// snapshot, predicted, server, stats, state) is new at each read; client, rules, scoreboard and
// state.lastClose are the client's own objects.
// Node's test runner loads this module as it is.

import { pageStats } from "./debug.js";
import { drawnEntities } from "./view.js";

/** A Map of entities as a plain object id -> a copy of the entity (what a test can read). */
export function plain(map) {
  const out = {};
  for (const [id, e] of map) out[id] = { ...e };
  return out;
}

/**
 * The common members of window.game for the GameClient `getClient()` returns (null when there is
 * none). Options: `serverUrl`; `interpDelayMs`, the delay the page asked for (null: automatic),
 * reported until a client says its own; `status`, the page's banner {el, text} (elements);
 * `fps()`, the page's frame rate; `debug`, its DebugOverlay (debug.js); `view()`, the Map of
 * entities as the page draws them now, by default view.js drawnEntities() at the client's clock.
 */
export function gameHooks(getClient, options = {}) {
  const { serverUrl, interpDelayMs = null, status = null, fps = () => null, debug = null } = options;
  const drawn =
    options.view ??
    (() => {
      const client = getClient();
      return client ? drawnEntities(client, client.now()) : new Map();
    });
  return {
    serverUrl,
    get interpDelayMs() {
      const client = getClient();
      return client ? client.interpDelay : interpDelayMs;
    },
    get client() {
      return getClient();
    },
    /**
     * {connection ("idle" without a client), attempt, retryInMs (null: no retry due), lastClose,
     * statusText (the banner's; "" while it is hidden)}.
     */
    get state() {
      const client = getClient();
      return {
        connection: client ? client.state : "idle",
        attempt: client ? client.attempt : 0,
        retryInMs: client && client.retryAt !== null ? Math.max(0, client.retryAt - client.now()) : null,
        lastClose: client ? client.lastClose : null,
        statusText: !status || status.el.hidden ? "" : status.text.textContent,
      };
    },
    get myId() {
      const client = getClient();
      return client ? client.myId : null;
    },
    /** The rules the WELCOME gave, as the client read them; null before it. */
    get rules() {
      const client = getClient();
      return client ? client.rules : null;
    },
    /** id -> {id, kind, x, y, ...the kind's fields} as drawn now (others interpolated, own predicted). */
    get entities() {
      return plain(drawn());
    },
    /** id -> the newest snapshot's state, in world units. */
    get snapshot() {
      const client = getClient();
      return client && client.rules ? plain(client.mirror.frame(client.rules.quanta)) : {};
    },
    /** The own entity's prediction: {x, y, pending (inputs not confirmed), offsetX, offsetY (the error still drawn), seq}, or null. */
    get predicted() {
      const client = getClient();
      const p = client && client.predictor;
      if (!p || !p.ready) return null;
      return { x: p.x, y: p.y, pending: p.pending.length, offsetX: p.offsetX, offsetY: p.offsetY, seq: client.seq };
    },
    /**
     * This player's entity in the newest snapshot, in world units ({id, kind, x, y, ...the kind's
     * fields}), with that snapshot's `tick` and `lastSeq` (the newest input it confirms); or null.
     */
    get server() {
      const client = getClient();
      const me = client && client.rules && client.myId !== null ? client.mirror.entities.get(client.myId) : undefined;
      if (!me) return null;
      const own = client.mirror.schema.kind(me.kind).frame(me, client.rules.quanta);
      return { ...own, tick: client.mirror.tick, lastSeq: client.mirror.lastSeq };
    },
    /** The figures of debug.js pageStats(): the client's counters and rates, prediction, interpolation, fps. */
    get stats() {
      return pageStats(getClient(), { fps: fps() });
    },
    /** The server's SCOREBOARD lines [{id, name, score, deaths, away}], best first. */
    get scoreboard() {
      const client = getClient();
      return client ? client.scoreboard : [];
    },
    /** Whether the debug overlay is shown. */
    get debugVisible() {
      return debug ? debug.visible : false;
    },
    /** Send a raw message array, e.g. a second HELLO to see how the server refuses it. */
    sendRaw(array) {
      const client = getClient();
      return client ? client.sendRaw(array) : false;
    },
  };
}

/** `hooks` with the members of `more` added, as defined there (a getter stays a getter). */
export function extendHooks(hooks, more) {
  return Object.defineProperties(hooks, Object.getOwnPropertyDescriptors(more));
}
