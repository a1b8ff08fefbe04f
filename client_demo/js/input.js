// Keyboard and mouse -> what one INPUT carries: a movement vector, an aim and the buttons.
// WASD and the arrow keys move (by physical key position, so AZERTY's ZQSD works too), the
// mouse aims, the left button or Space fires.

import { Buttons } from "./protocol.js";

const KEYS = {
  KeyW: [0, -1],
  ArrowUp: [0, -1],
  KeyS: [0, 1],
  ArrowDown: [0, 1],
  KeyA: [-1, 0],
  ArrowLeft: [-1, 0],
  KeyD: [1, 0],
  ArrowRight: [1, 0],
};

export class InputState {
  constructor(target, canvas) {
    this.down = new Set();
    this.mouse = null; // {x, y} in canvas pixels, once the mouse has moved
    this.firing = false;
    this.lastAim = 0;
    this.enabled = true;
    target.addEventListener("keydown", (ev) => {
      if (!this.enabled || isTyping(ev)) return;
      if (ev.code in KEYS || ev.code === "Space") {
        this.down.add(ev.code);
        ev.preventDefault(); // arrows and space would scroll the page
      }
    });
    target.addEventListener("keyup", (ev) => this.down.delete(ev.code));
    // A key released while the window had no focus never sends keyup: forget everything.
    target.addEventListener("blur", () => {
      this.down.clear();
      this.firing = false;
    });
    canvas.addEventListener("mousemove", (ev) => {
      const r = canvas.getBoundingClientRect();
      this.mouse = { x: ev.clientX - r.left, y: ev.clientY - r.top };
    });
    canvas.addEventListener("mousedown", (ev) => {
      if (ev.button === 0 && this.enabled) this.firing = true;
    });
    target.addEventListener("mouseup", (ev) => {
      if (ev.button === 0) this.firing = false;
    });
    canvas.addEventListener("contextmenu", (ev) => ev.preventDefault());
  }

  /** The movement vector from the keys held: each axis -1, 0 or 1 (the server normalises). */
  move() {
    let mx = 0;
    let my = 0;
    for (const code of this.down) {
      const k = KEYS[code];
      if (k) {
        mx += k[0];
        my += k[1];
      }
    }
    return [Math.sign(mx), Math.sign(my)];
  }

  /**
   * The INPUT fields; `origin` is the player's position on the canvas, in pixels. Without a
   * mouse the aim follows the movement.
   */
  read(origin) {
    const [moveX, moveY] = this.enabled ? this.move() : [0, 0];
    let aim = this.lastAim;
    if (this.mouse && origin) {
      const dx = this.mouse.x - origin.x;
      const dy = this.mouse.y - origin.y;
      if (dx !== 0 || dy !== 0) aim = Math.atan2(dy, dx); // within [-pi, pi]
    } else if (moveX !== 0 || moveY !== 0) {
      aim = Math.atan2(moveY, moveX);
    }
    this.lastAim = aim;
    const fire = this.enabled && (this.firing || this.down.has("Space"));
    return { moveX, moveY, aim, buttons: fire ? Buttons.FIRE : 0 };
  }
}

function isTyping(ev) {
  const t = ev.target;
  return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.isContentEditable);
}
