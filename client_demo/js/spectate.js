// Spectator mode's page logic that touches no DOM: what the address asks for, whose view the
// camera centres on, and the line the page shows while watching (docs/protocol.md, "Spectators").
//
// A spectator has no entity: the camera follows the player the server says it follows
// (FOLLOWING), as drawn (interpolated like every other entity), and stays where it was while
// that player is not in the drawn frame (just switched to, not in the snapshots yet).
// Node's test runner loads this module as it is.

/**
 * The spectating the address asks for: ?spectate=1 (or true) gives {room}, the room to watch
 * from ?room=ID, or null for the server's busiest public room; without it, null.
 */
export function spectateFromSearch(search) {
  const params = new URLSearchParams(search);
  const flag = (params.get("spectate") || "").trim().toLowerCase();
  if (flag !== "1" && flag !== "true") return null;
  return { room: (params.get("room") || "").trim().slice(0, 32) || null };
}

/** The name of player `id`: its scoreboard line's, else its entity's; null when unknown. */
export function playerName(id, scoreboard, entities) {
  if (id === null || id === undefined) return null;
  const line = scoreboard.find((l) => l.id === id);
  if (line) return line.name;
  const e = entities.get(id);
  return e ? e.name : null;
}

/**
 * The line shown over the game while spectating: "spectating NAME", "waiting for players" when
 * the room has no one to follow, or "spectating…" before the server said whom (known: false).
 */
export function spectateLine({ known, following, scoreboard = [], entities = new Map() }) {
  if (!known) return "spectating…";
  if (following === null) return "waiting for players";
  return `spectating ${playerName(following, scoreboard, entities) ?? `player ${following}`}`;
}

/** Where a spectator's camera looks: the followed player as drawn, held while it is out of sight. */
export class SpectatorCamera {
  constructor() {
    this.focus = null; // {x, y} in world units; null: the middle of the world
  }

  /** The focus for the entities drawn now (Map id -> {x, y}) and the player followed (or null). */
  update(entities, following) {
    const e = following === null ? undefined : entities.get(following);
    if (e) this.focus = { x: e.x, y: e.y };
    else if (following === null) this.focus = null; // no one to follow: the whole room
    return this.focus;
  }

  reset() {
    this.focus = null;
  }
}
