// Canvas drawing: the world (the map's tiles, or a grid without a map), every player (name,
// facing, hp bar; the dead faded and crossed out), shots, a minimap and the respawn notice.
// It reads a plain view object and draws it; it holds no game state of its own.

import { angleToRadians } from "./rules.js";

const COLORS = ["#4cc9f0", "#f72585", "#b5e48c", "#ffb703", "#9d4edd", "#fb8500", "#06d6a0", "#ef476f"];

export function colorFor(id) {
  return COLORS[(id * 7) % COLORS.length];
}

/** The scale and the world point at the canvas centre. */
export function camera(width, height, rules, focus) {
  const scale = Math.max(0.3, Math.min(1.25, Math.min(width, height) / 900));
  const fx = focus ? focus.x : rules.world_width / 2;
  const fy = focus ? focus.y : rules.world_height / 2;
  return {
    scale,
    x: fx,
    y: fy,
    toScreen: (x, y) => ({ x: (x - fx) * scale + width / 2, y: (y - fy) * scale + height / 2 }),
  };
}

/**
 * view: {width, height, dpr, rules, entities: Map id -> {x, y, angle, hp, name}, myId, myAim,
 *        tracers: [{x, y, aim, age, length}], flashes: Map id -> age (0..1), now,
 *        mapView: a map.js MapView or null, notice: text drawn over the middle or null,
 *        focus: {x, y} the camera centres on (undefined: own player; null: the world's middle),
 *        followId: the player a spectator follows, ringed (or null)}
 * myId is null for a spectator: no player is drawn as its own.
 */
export function draw(ctx, view) {
  const { width, height, dpr, rules } = view;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = "#0b1020";
  ctx.fillRect(0, 0, width, height);
  if (!rules) return;
  const me = view.myId === null ? undefined : view.entities.get(view.myId);
  const cam = camera(width, height, rules, view.focus !== undefined ? view.focus : me);
  if (view.mapView) drawMap(ctx, cam, view.mapView, width, height);
  else drawGround(ctx, cam, rules, width, height);
  for (const t of view.tracers) drawTracer(ctx, cam, rules, t);
  const ordered = [...view.entities.values()].sort((a, b) => (a.id === view.myId) - (b.id === view.myId));
  for (const e of ordered) {
    const mine = view.myId !== null && e.id === view.myId;
    drawPlayer(ctx, cam, rules, e, mine, mine ? view.myAim : null, view.flashes.get(e.id) || 0, e.id === view.followId);
  }
  drawMinimap(ctx, rules, view.entities, view.myId, width, view.mapView);
  if (view.notice) drawNotice(ctx, view.notice, width, height);
}

function drawMap(ctx, cam, mapView, width, height) {
  mapView.draw(ctx, cam, width, height);
  const tl = cam.toScreen(0, 0);
  ctx.strokeStyle = "#e63946";
  ctx.lineWidth = 3;
  ctx.strokeRect(tl.x, tl.y, mapView.map.width * cam.scale, mapView.map.height * cam.scale);
}

function drawNotice(ctx, text, width, height) {
  ctx.font = "bold 22px system-ui, sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  const w = ctx.measureText(text).width + 40;
  ctx.fillStyle = "rgba(10, 14, 30, 0.8)";
  ctx.fillRect(width / 2 - w / 2, height / 3 - 24, w, 48);
  ctx.fillStyle = "#ffd6a5";
  ctx.fillText(text, width / 2, height / 3);
}

function drawGround(ctx, cam, rules, width, height) {
  const s = cam.scale;
  const tl = cam.toScreen(0, 0);
  const wpx = rules.world_width * s;
  const hpx = rules.world_height * s;
  ctx.fillStyle = "#121a33";
  ctx.fillRect(tl.x, tl.y, wpx, hpx);
  ctx.strokeStyle = "rgba(255,255,255,0.06)";
  ctx.lineWidth = 1;
  const grid = 100;
  ctx.beginPath();
  for (let gx = 0; gx <= rules.world_width; gx += grid) {
    const x = Math.round(tl.x + gx * s) + 0.5;
    if (x < -1 || x > width + 1) continue;
    ctx.moveTo(x, Math.max(tl.y, 0));
    ctx.lineTo(x, Math.min(tl.y + hpx, height));
  }
  for (let gy = 0; gy <= rules.world_height; gy += grid) {
    const y = Math.round(tl.y + gy * s) + 0.5;
    if (y < -1 || y > height + 1) continue;
    ctx.moveTo(Math.max(tl.x, 0), y);
    ctx.lineTo(Math.min(tl.x + wpx, width), y);
  }
  ctx.stroke();
  ctx.strokeStyle = "#e63946";
  ctx.lineWidth = 3;
  ctx.strokeRect(tl.x, tl.y, wpx, hpx);
}

function drawTracer(ctx, cam, rules, t) {
  const a = cam.toScreen(t.x, t.y);
  const reach = (t.length ?? rules.weapon_range) * cam.scale;
  ctx.strokeStyle = `rgba(255, 240, 150, ${Math.max(0, 1 - t.age) * 0.8})`;
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.moveTo(a.x, a.y);
  ctx.lineTo(a.x + Math.cos(t.aim) * reach, a.y + Math.sin(t.aim) * reach);
  ctx.stroke();
}

function drawPlayer(ctx, cam, rules, e, mine, aim, flash, followed = false) {
  const p = cam.toScreen(e.x, e.y);
  const r = Math.max(4, rules.player_radius * cam.scale);
  const dead = e.hp <= 0;
  const facing = aim !== null && aim !== undefined ? aim : angleToRadians(e.angle, rules.angle_steps);
  ctx.save();
  ctx.globalAlpha = dead ? 0.35 : 1;
  // body
  ctx.fillStyle = flash > 0 ? "#ffffff" : colorFor(e.id);
  ctx.beginPath();
  ctx.arc(p.x, p.y, r, 0, Math.PI * 2);
  ctx.fill();
  if (mine) {
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 2;
    ctx.stroke();
  }
  if (followed) {
    // the player a spectator follows: a dashed ring around it
    ctx.save();
    ctx.setLineDash([4, 4]);
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(p.x, p.y, r + 6, 0, Math.PI * 2);
    ctx.stroke();
    ctx.restore();
  }
  // facing: a barrel
  ctx.strokeStyle = "#0b1020";
  ctx.lineWidth = Math.max(2, r * 0.35);
  ctx.beginPath();
  ctx.moveTo(p.x, p.y);
  ctx.lineTo(p.x + Math.cos(facing) * r * 1.5, p.y + Math.sin(facing) * r * 1.5);
  ctx.stroke();
  if (dead) {
    // crossed out
    ctx.globalAlpha = 0.9;
    ctx.strokeStyle = "#e63946";
    ctx.lineWidth = 3;
    ctx.beginPath();
    ctx.moveTo(p.x - r * 0.8, p.y - r * 0.8);
    ctx.lineTo(p.x + r * 0.8, p.y + r * 0.8);
    ctx.moveTo(p.x + r * 0.8, p.y - r * 0.8);
    ctx.lineTo(p.x - r * 0.8, p.y + r * 0.8);
    ctx.stroke();
  }
  ctx.restore();
  // name
  ctx.font = `${mine ? "bold " : ""}13px system-ui, sans-serif`;
  ctx.textAlign = "center";
  ctx.textBaseline = "bottom";
  ctx.fillStyle = dead ? "#8891a8" : "#e8ecf8";
  ctx.fillText(dead ? `${e.name} (down)` : e.name, p.x, p.y - r - 10);
  // hp bar
  const w = Math.max(24, r * 2.4);
  const frac = Math.max(0, Math.min(1, e.hp / rules.max_hp));
  ctx.fillStyle = "rgba(0,0,0,0.6)";
  ctx.fillRect(p.x - w / 2, p.y - r - 8, w, 5);
  ctx.fillStyle = frac > 0.5 ? "#52b788" : frac > 0.25 ? "#ffb703" : "#e63946";
  ctx.fillRect(p.x - w / 2, p.y - r - 8, w * frac, 5);
}

function drawMinimap(ctx, rules, entities, myId, width, mapView) {
  const size = 140;
  const x0 = width - size - 12;
  const y0 = 12;
  const sx = size / rules.world_width;
  const sy = size / rules.world_height;
  ctx.fillStyle = "rgba(10, 14, 30, 0.75)";
  ctx.fillRect(x0, y0, size, size);
  if (mapView) {
    ctx.imageSmoothingEnabled = false;
    ctx.globalAlpha = 0.8;
    ctx.drawImage(mapView.mini, x0, y0, size, size);
    ctx.globalAlpha = 1;
  }
  ctx.strokeStyle = "rgba(255,255,255,0.3)";
  ctx.lineWidth = 1;
  ctx.strokeRect(x0 + 0.5, y0 + 0.5, size, size);
  for (const e of entities.values()) {
    const mine = myId !== null && e.id === myId;
    ctx.fillStyle = e.hp <= 0 ? "#8891a8" : mine ? "#ffffff" : colorFor(e.id);
    ctx.fillRect(x0 + e.x * sx - 2, y0 + e.y * sy - 2, mine ? 5 : 4, mine ? 5 : 4);
  }
}
