// The reference scenario (docs/benchmarks.md) on Colyseus 0.16, for a same-machine, same-hour
// comparison with gameserver: one room, simulation and patches at 30 Hz, a 2000 x 2000 world,
// positions clamped, 150 units/s, each player {x, y, hp, angle} keyed by session id, each
// client's latest input (a direction, a sequence number, an aim) applied every tick.
// `--max-clients K` caps each room at K players: joinOrCreate then fills rooms of K, each with
// its own simulation and patch timers (the load benchmark's rooms scenario, K = 8).
//
//   node server.js --port 2567 [--max-clients 8]   (port 0: any free port; the first line of
//                                                   output names it)
"use strict";
const { Server, Room } = require("@colyseus/core");
const { WebSocketTransport } = require("@colyseus/ws-transport");
const { Schema, MapSchema, defineTypes } = require("@colyseus/schema");

const RATE = 30;
const WORLD = 2000;
const SPEED = 150;
const clientsAt = process.argv.indexOf("--max-clients");
const MAX_CLIENTS = clientsAt > 0 ? Number(process.argv[clientsAt + 1]) : 5000;

class Player extends Schema {}
defineTypes(Player, { x: "float32", y: "float32", hp: "uint8", angle: "uint8" });

class State extends Schema {
  constructor() {
    super();
    this.players = new MapSchema();
  }
}
defineTypes(State, { players: { map: Player } });

class ReferenceRoom extends Room {
  onCreate() {
    this.maxClients = MAX_CLIENTS;
    this.setState(new State());
    this.inputs = new Map(); // session id -> [seq, mx, my, aim], the latest
    this.setPatchRate(1000 / RATE);
    this.setSimulationInterval(() => this.step(1 / RATE), 1000 / RATE);
    this.onMessage("i", (client, input) => {
      if (Array.isArray(input) && input.length === 4) this.inputs.set(client.sessionId, input);
    });
  }

  onJoin(client) {
    const p = new Player();
    p.x = Math.random() * WORLD;
    p.y = Math.random() * WORLD;
    p.hp = 100;
    p.angle = 0;
    this.state.players.set(client.sessionId, p);
  }

  onLeave(client) {
    this.state.players.delete(client.sessionId);
    this.inputs.delete(client.sessionId);
  }

  step(dt) {
    const players = this.state.players;
    for (const [id, input] of this.inputs) {
      const p = players.get(id);
      if (p === undefined) continue;
      let mx = +input[1] || 0, my = +input[2] || 0;
      const n2 = mx * mx + my * my;
      if (n2 > 1) { const n = Math.sqrt(n2); mx /= n; my /= n; }
      const x = Math.min(Math.max(p.x + mx * SPEED * dt, 0), WORLD);
      const y = Math.min(Math.max(p.y + my * SPEED * dt, 0), WORLD);
      if (x !== p.x) p.x = x;
      if (y !== p.y) p.y = y;
      const angle = Math.floor(((+input[3] || 0) / (2 * Math.PI)) * 256 + 0.5) & 255;
      if (angle !== p.angle) p.angle = angle;
    }
    this.inputs.clear();
  }
}

const at = process.argv.indexOf("--port");
const port = at > 0 ? Number(process.argv[at + 1]) : 2567;
const server = new Server({ transport: new WebSocketTransport({ perMessageDeflate: false }) });
server.define("reference", ReferenceRoom);
server.listen(port, "127.0.0.1").then(() => console.log(`colyseus ${server.transport.server.address().port}`));
process.on("SIGTERM", () => process.exit(0));
