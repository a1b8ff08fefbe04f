// Prints, as JSON, the bytes the page's encoder makes for a few messages; tests/test_js_logic.py
// decodes them with the server's codec. Not a test file itself (no .test. in the name).
import { encodeAck, encodeFollow, encodeHello, encodeInput, encodeInputFields, encodePing } from "../../client_demo/js/protocol.js";

const hex = (b) => Buffer.from(b).toString("hex");
const samples = {
  hello: encodeHello("Zoë 3"),
  hello_seat: encodeHello("Zoë 3", { room: "r-3f9c01a2b4d5", seat: "XHxdGMTbaLZHfZXP_gGLVw" }),
  input_idle: encodeInput({ seq: 1, moveX: 0, moveY: 0, aim: 0, buttons: 0, ackTick: null }),
  input_move: encodeInput({ seq: 4294967295, moveX: -1, moveY: 1, aim: Math.atan2(-1, -1), buttons: 1, ackTick: 2147483647, renderTick: 12.9 }),
  input_fraction: encodeInput({ seq: 77, moveX: 0.25, moveY: -0.5, aim: Math.PI, buttons: 255, ackTick: 0 }),
  ping: encodePing(123456.789),
  hello_spectate: encodeHello("Zoë 3", { room: "r-3f9c01a2b4d5", spectate: true }),
  hello_spectate_quick: encodeHello("Zoë 3", { spectate: true }),
  follow: encodeFollow(7),
  follow_any: encodeFollow(null),
  ack: encodeAck(2147483647),
  // tests/rover.py's input fields, as WELCOME lists them
  input_fields: encodeInputFields({
    seq: 9,
    fields: [
      { name: "throttle", type: "float", min: 0.0, max: 1.0 },
      { name: "steer", type: "int", min: -1, max: 1 },
      { name: "horn", type: "flags", min: 0, max: 1 },
    ],
    values: { throttle: 0.75, steer: -3, horn: true },
    ackTick: 5,
    renderTick: 3.6,
  }),
};
console.log(JSON.stringify(Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, hex(v)]))));
