// What every game page draws from its GameClient (client.js), whatever the game:
// - drawnEntities(): the entities as drawn at a moment: the others interpolated (the client's
//   SnapshotBuffer at its render tick), the own entity where its prediction puts it, between
//   the last two predicted steps, so that its keys answer at once.
// - fitCanvas(): a canvas's pixels fitted to its size on the page and the device's pixel ratio.
// Node's test runner loads this module as it is.

/**
 * id -> {id, kind, x, y, ...the kind's fields} as drawn at `now` (the client's clock); the own
 * entity has its newest snapshot's fields, the predicted x and y, and `predicted: true`. `count`
 * lets the sampling count interpolation underruns: true only for the frame that is drawn.
 */
export function drawnEntities(client, now, { count = false } = {}) {
  if (!client || !client.rules) return new Map();
  const rt = client.renderTick(now);
  const { entities } = rt === null ? { entities: new Map() } : client.buffer.sample(rt, { count });
  const me = client.myId === null ? undefined : client.mirror.entities.get(client.myId);
  const p = client.predictor;
  if (me && p && p.ready) {
    const tickMs = client.clock ? client.clock.tickMs : 33;
    const alpha = client.lastInputAt === null ? 1 : (now - client.lastInputAt) / tickMs;
    const d = p.drawn(alpha);
    const newest = client.mirror.schema.kind(me.kind).frame(me, client.rules.quanta);
    entities.set(client.myId, { ...newest, x: d.x, y: d.y, predicted: true });
  }
  return entities;
}

/**
 * Sizes the pixels of `canvas` to its CSS size times `dpr`; returns {width, height (CSS pixels),
 * dpr}: `size` itself when nothing changed (the canvas is then left alone, not cleared).
 */
export function fitCanvas(canvas, size, dpr = globalThis.devicePixelRatio || 1) {
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (width === size.width && height === size.height && dpr === size.dpr) return size;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  return { width, height, dpr };
}
