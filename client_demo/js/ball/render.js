// Canvas drawing of the ball game: the field (halves, centre circle, goal mouths of goal_width at
// x = 0 and x = world_width), the players as circles in their team's colour with their names
// (the own player ringed, with its aim), the ball, the score and a "GOAL" flash.
// It reads a plain view object and draws it; it holds no game state of its own.

import { BLUE, KICKING, RED } from "./rules.js";

export const TEAM_COLORS = Object.freeze({ [RED]: "#e63946", [BLUE]: "#4cc9f0" });
export const TEAM_NAMES = Object.freeze({ [RED]: "Red", [BLUE]: "Blue" });
const GOAL_DEPTH = 36; // how far a goal's net is drawn behind its line, world units
const MARGIN = 24; // pixels around the field
const SCORE_BAND = 44; // pixels above the field for the score

/** The whole field fitted to the canvas: {scale, toScreen(x, y), toWorld(px, py)}. */
export function fieldView(width, height, rules) {
  const w = rules.world_width + 2 * GOAL_DEPTH;
  const h = rules.world_height;
  const scale = Math.max(0.05, Math.min((width - 2 * MARGIN) / w, (height - 2 * MARGIN - SCORE_BAND) / h));
  const ox = (width - rules.world_width * scale) / 2;
  const oy = SCORE_BAND + MARGIN + (height - SCORE_BAND - 2 * MARGIN - h * scale) / 2;
  return {
    scale,
    toScreen: (x, y) => ({ x: ox + x * scale, y: oy + y * scale }),
    toWorld: (px, py) => ({ x: (px - ox) / scale, y: (py - oy) / scale }),
  };
}

/**
 * view: {width, height, dpr, rules, kinds: {player, ball, goal} (kind ids), entities: Map id ->
 *        entity as drawn, myId, myAim (radians, or null), score: {red, blue},
 *        flash: {team, age 0..1} of the newest goal while shown, or null, notice: text or null}
 */
export function draw(ctx, view) {
  const { width, height, dpr, rules } = view;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = "#0b1020";
  ctx.fillRect(0, 0, width, height);
  if (!rules) return;
  const fv = fieldView(width, height, rules);
  drawField(ctx, fv, rules);
  const players = [];
  for (const e of view.entities.values()) {
    if (e.kind === view.kinds.player) players.push(e);
  }
  players.sort((a, b) => (a.id === view.myId) - (b.id === view.myId)); // own player on top
  for (const e of players) drawPlayer(ctx, fv, rules, e, e.id === view.myId, e.id === view.myId ? view.myAim : null);
  for (const e of view.entities.values()) {
    if (e.kind === view.kinds.ball) drawBall(ctx, fv, rules, e);
  }
  drawScore(ctx, view.score, width);
  if (view.flash) drawFlash(ctx, view.flash, width, height);
  if (view.notice) drawNotice(ctx, view.notice, width, height);
}

function drawField(ctx, fv, rules) {
  const W = rules.world_width;
  const H = rules.world_height;
  const s = fv.scale;
  const tl = fv.toScreen(0, 0);
  ctx.fillStyle = "#1f5130";
  ctx.fillRect(tl.x, tl.y, W * s, H * s);
  ctx.fillStyle = "#225a35"; // stripes
  for (let i = 0; i < 10; i += 2) ctx.fillRect(tl.x + (i * W * s) / 10, tl.y, (W * s) / 10, H * s);
  const mouth = rules.goal_width;
  const top = H / 2 - mouth / 2;
  // the goals: a net behind each line, in the colour of the team that defends it
  for (const [team, x0] of [[RED, -GOAL_DEPTH], [BLUE, W]]) {
    const p = fv.toScreen(x0, top);
    ctx.fillStyle = TEAM_COLORS[team];
    ctx.globalAlpha = 0.35;
    ctx.fillRect(p.x, p.y, GOAL_DEPTH * s, mouth * s);
    ctx.globalAlpha = 1;
    ctx.strokeStyle = TEAM_COLORS[team];
    ctx.lineWidth = 3;
    ctx.strokeRect(p.x, p.y, GOAL_DEPTH * s, mouth * s);
  }
  ctx.strokeStyle = "rgba(255, 255, 255, 0.85)";
  ctx.lineWidth = 2;
  ctx.strokeRect(tl.x, tl.y, W * s, H * s);
  const mid = fv.toScreen(W / 2, H / 2);
  ctx.beginPath();
  ctx.moveTo(mid.x, tl.y);
  ctx.lineTo(mid.x, tl.y + H * s);
  ctx.stroke();
  ctx.beginPath();
  ctx.arc(mid.x, mid.y, Math.min(W, H) * 0.1 * s, 0, Math.PI * 2);
  ctx.stroke();
  ctx.fillStyle = "rgba(255, 255, 255, 0.85)";
  ctx.beginPath();
  ctx.arc(mid.x, mid.y, 3, 0, Math.PI * 2);
  ctx.fill();
  // the goal mouths on the lines, drawn over the touchlines
  ctx.lineWidth = 5;
  for (const [team, x] of [[RED, 0], [BLUE, W]]) {
    const a = fv.toScreen(x, top);
    ctx.strokeStyle = TEAM_COLORS[team];
    ctx.beginPath();
    ctx.moveTo(a.x, a.y);
    ctx.lineTo(a.x, a.y + mouth * s);
    ctx.stroke();
  }
}

function drawPlayer(ctx, fv, rules, e, mine, aim) {
  const p = fv.toScreen(e.x, e.y);
  const r = Math.max(4, rules.player_radius * fv.scale);
  ctx.fillStyle = TEAM_COLORS[e.team] ?? "#aaaaaa";
  ctx.beginPath();
  ctx.arc(p.x, p.y, r, 0, Math.PI * 2);
  ctx.fill();
  if (e.state & KICKING) {
    // a kick: a ring as far as the kick reaches
    ctx.strokeStyle = "rgba(255, 240, 150, 0.9)";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(p.x, p.y, r + rules.kick_reach * fv.scale, 0, Math.PI * 2);
    ctx.stroke();
  }
  if (mine) {
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 3;
    ctx.beginPath();
    ctx.arc(p.x, p.y, r, 0, Math.PI * 2);
    ctx.stroke();
    if (aim !== null && aim !== undefined) {
      ctx.strokeStyle = "rgba(255, 255, 255, 0.7)";
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(p.x + Math.cos(aim) * r * 1.2, p.y + Math.sin(aim) * r * 1.2);
      ctx.lineTo(p.x + Math.cos(aim) * r * 2.2, p.y + Math.sin(aim) * r * 2.2);
      ctx.stroke();
    }
  }
  ctx.font = `${mine ? "bold " : ""}12px system-ui, sans-serif`;
  ctx.textAlign = "center";
  ctx.textBaseline = "bottom";
  ctx.fillStyle = "#ffffff";
  ctx.fillText(mine ? `${e.name} (you)` : e.name ?? "", p.x, p.y - r - 3);
}

function drawBall(ctx, fv, rules, e) {
  const p = fv.toScreen(e.x, e.y);
  const r = Math.max(3, rules.ball_radius * fv.scale);
  ctx.fillStyle = "#f8f9fa";
  ctx.strokeStyle = "#0b1020";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  ctx.arc(p.x, p.y, r, 0, Math.PI * 2);
  ctx.fill();
  ctx.stroke();
}

function drawScore(ctx, score, width) {
  ctx.font = "bold 26px system-ui, sans-serif";
  ctx.textBaseline = "middle";
  const y = MARGIN + 14;
  ctx.textAlign = "right";
  ctx.fillStyle = TEAM_COLORS[RED];
  ctx.fillText(`${TEAM_NAMES[RED]} ${score.red}`, width / 2 - 14, y);
  ctx.textAlign = "center";
  ctx.fillStyle = "#e8ecf8";
  ctx.fillText(":", width / 2, y);
  ctx.textAlign = "left";
  ctx.fillStyle = TEAM_COLORS[BLUE];
  ctx.fillText(`${score.blue} ${TEAM_NAMES[BLUE]}`, width / 2 + 14, y);
}

function drawFlash(ctx, flash, width, height) {
  const size = Math.round(Math.min(width, height) * 0.16);
  ctx.save();
  ctx.globalAlpha = Math.max(0, 1 - flash.age);
  ctx.font = `900 ${size}px system-ui, sans-serif`;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillStyle = TEAM_COLORS[flash.team] ?? "#ffffff";
  ctx.strokeStyle = "#0b1020";
  ctx.lineWidth = 6;
  const text = flash.team === null ? "GOAL!" : `GOAL! ${TEAM_NAMES[flash.team]}`;
  ctx.strokeText(text, width / 2, height / 2);
  ctx.fillText(text, width / 2, height / 2);
  ctx.restore();
}

function drawNotice(ctx, text, width, height) {
  ctx.font = "bold 20px system-ui, sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  const w = ctx.measureText(text).width + 40;
  ctx.fillStyle = "rgba(10, 14, 30, 0.8)";
  ctx.fillRect(width / 2 - w / 2, height / 3 - 22, w, 44);
  ctx.fillStyle = "#ffd6a5";
  ctx.fillText(text, width / 2, height / 3);
}
