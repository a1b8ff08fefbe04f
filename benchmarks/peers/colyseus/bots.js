// Players for server.js, as gameserver's wander bots play the reference scenario: one input a
// tick ([seq, move x, move y, aim]), the bots spread over the tick period, a new heading at
// random about every 1.5 s. `--verify K` bots decode every patch with colyseus.js and check the
// room's size; the others only count patches and bytes, so that the bots stay cheap. Every bot
// joins with joinOrCreate: one room, or rooms of the server's --max-clients.
//
//   node bots.js --url ws://127.0.0.1:2567 --count 400 --warmup 5 --measure 20 --verify 2
// prints one JSON line: the measured window's patches per second (median, p1), bytes, errors,
// and the rooms the bots are in (how many, the fewest and most bots in one).
"use strict";
const { Client } = require("colyseus.js");

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const url = arg("url", "ws://127.0.0.1:2567");
const count = Number(arg("count", 100));
const warmup = Number(arg("warmup", 5)) * 1000;
const measure = Number(arg("measure", 20)) * 1000;
const verify = Number(arg("verify", 2));
const RATE = 30;
const PERIOD = 1000 / RATE;
const PATCH = 15; // Protocol.ROOM_STATE_PATCH

const bots = [];
const errors = [];

function counter(bot, ws, decode) {
  return (ev) => {
    const data = ev.data;
    if (data[0] === PATCH || (data instanceof ArrayBuffer && new Uint8Array(data)[0] === PATCH)) {
      bot.patches += 1;
      bot.bytes += data.byteLength;
    }
    if (decode) decode(ev);
  };
}

async function join(i) {
  const client = new Client(url);
  const room = await client.joinOrCreate("reference");
  const bot = { room, patches: 0, bytes: 0, seq: 0, angle: Math.random() * 2 * Math.PI, size: 0 };
  const ws = room.connection.transport.ws;
  if (i < verify) {
    const decode = ws.onmessage;
    ws.onmessage = counter(bot, ws, decode);
    room.onStateChange((state) => { bot.size = state.players.size; });
  } else {
    ws.binaryType = "nodebuffer"; // no copy into an ArrayBuffer: only the first byte is read
    ws.onmessage = counter(bot, ws, null);
  }
  room.onLeave((code) => { if (!bot.done) errors.push(`left ${code}`); });
  room.onError((code, message) => errors.push(`error ${code} ${message}`));
  bots.push(bot);
  return bot;
}

function play(bot, phase) {
  setTimeout(() => {
    bot.timer = setInterval(() => {
      if (Math.random() < PERIOD / 1500) bot.angle = Math.random() * 2 * Math.PI;
      bot.seq += 1;
      bot.room.send("i", [bot.seq, Math.cos(bot.angle), Math.sin(bot.angle), bot.angle]);
    }, PERIOD);
  }, phase);
}

function quantile(sorted, q) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : 0;
}

async function main() {
  for (let i = 0; i < count; i += 25) {
    const batch = [];
    for (let j = i; j < Math.min(count, i + 25); j++) batch.push(join(j));
    await Promise.all(batch);
  }
  bots.forEach((bot, i) => play(bot, (i * PERIOD) / count));
  console.error(`joined ${bots.length}`);
  await new Promise((r) => setTimeout(r, warmup));
  const start = bots.map((b) => [b.patches, b.bytes]);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  console.log(JSON.stringify({ event: "window_start" }));
  await new Promise((r) => setTimeout(r, measure));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const rates = bots.map((b, i) => (b.patches - start[i][0]) / seconds).sort((a, b) => a - b);
  const patches = bots.reduce((s, b, i) => s + b.patches - start[i][0], 0);
  const bytes = bots.reduce((s, b, i) => s + b.bytes - start[i][1], 0);
  for (const bot of bots) {
    bot.done = true;
    clearInterval(bot.timer);
  }
  const sizes = bots.slice(0, verify).map((b) => b.size);
  const perRoom = new Map();
  for (const bot of bots) perRoom.set(bot.room.roomId, (perRoom.get(bot.room.roomId) || 0) + 1);
  console.log(JSON.stringify({
    event: "result", count, connected: bots.length, seconds,
    patches_per_s_median: quantile(rates, 0.5), patches_per_s_p1: quantile(rates, 0.01),
    bytes_per_patch: patches ? bytes / patches : 0, bytes_per_bot_per_s: bytes / seconds / bots.length,
    verified_sizes: sizes, errors: errors.length, first_errors: errors.slice(0, 5),
    rooms: perRoom.size, bots_per_room_min: Math.min(...perRoom.values()),
    bots_per_room_max: Math.max(...perRoom.values()),
    bots_cpu_cores: (cpu.user + cpu.system) / 1e6 / seconds,
  }));
  await Promise.all(bots.map((b) => b.room.leave(true).catch(() => {})));
  process.exit(0);
}
main().catch((e) => { console.error(e); process.exit(1); });
