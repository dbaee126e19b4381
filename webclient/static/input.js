// input.js: remote control from the viewer's <video> element. It turns
// pointer, wheel, keyboard and paste events into the messages of the input
// data channel (internal/wire/input.go), one JSON string per message:
//
//   {"v":1,"t":"move","x":32768,"y":16384[,"d":1]}  normalised 0..65535 on display d
//   {"v":1,"t":"down","b":0} / {"v":1,"t":"up","b":0}
//   {"v":1,"t":"wheel","dx":0,"dy":3}
//   {"v":1,"t":"kdown","c":"KeyA"[,"m":2]} / {"v":1,"t":"kup","c":"KeyA"[,"m":2]}
//   {"v":1,"t":"paste","s":"text"}
//   {"v":1,"t":"release"}
//
// Each message carries exactly the fields wire.DecodeInput accepts for its
// kind; "d" and "m" are left out when zero, as wire.EncodeInput does.
// The broker enforces view-only; here it only keeps the page quiet.

import { KEY_CODES } from './keys.js';

const VERSION = 1;
const MAX_COORD = 65535;
const MAX_WHEEL = 32;
const MAX_DISPLAY = 15;
const MAX_PASTE_RUNES = 4096;
// A wheel notch is about 100 px (wire protocol); lines and pages are turned
// into pixels first. An event of at least HALF_NOTCH px is a physical wheel
// tick and moves at least one notch even if the browser reports ~53 px.
const NOTCH_PX = 100;
const HALF_NOTCH = 50;
const LINE_PX = NOTCH_PX / 3; // three lines per notch, as browsers scroll
const PAGE_PX = 8 * NOTCH_PX;
// Moves are coalesced: at most one every MOVE_MS (Chromium already aligns
// pointermove to animation frames; this bounds faster mice and other browsers).
// Button and wheel events send the pending move at once.
const MOVE_MS = 8;

const ALLOWED = new Set(KEY_CODES);
const BUTTON_BITS = [1, 4, 2]; // MouseEvent.button 0,1,2 → MouseEvent.buttons bit

// Key sequences for shortcuts the local OS would take for itself.
// Each step is [kind, code, modifiers after the event].
const COMBOS = {
  'ctrl-alt-del': [
    ['kdown', 'ControlLeft', 2], ['kdown', 'AltLeft', 6], ['kdown', 'Delete', 6],
    ['kup', 'Delete', 6], ['kup', 'AltLeft', 2], ['kup', 'ControlLeft', 0],
  ],
  'alt-tab': [
    ['kdown', 'AltLeft', 4], ['kdown', 'Tab', 4], ['kup', 'Tab', 4], ['kup', 'AltLeft', 0],
  ],
  'win': [['kdown', 'MetaLeft', 8], ['kup', 'MetaLeft', 0]],
  'alt-f4': [
    ['kdown', 'AltLeft', 4], ['kdown', 'F4', 4], ['kup', 'F4', 4], ['kup', 'AltLeft', 0],
  ],
  'print-screen': [['kdown', 'PrintScreen', 0], ['kup', 'PrintScreen', 0]],
};

/** The combo names sendCombo accepts, for building the button bar. */
export const COMBO_NAMES = Object.freeze(Object.keys(COMBOS));

/**
 * normCoord mirrors wire.NormCoord: pixel px of a video size pixels long to
 * 0..65535, round(px*65535/(size-1)), clamped.
 */
export function normCoord(px, size) {
  if (size <= 1 || px <= 0) return 0;
  if (px >= size - 1) return MAX_COORD;
  return Math.floor((px * MAX_COORD * 2 + (size - 1)) / ((size - 1) * 2));
}

/** modifiers is the wire bitmask Shift 1 | Ctrl 2 | Alt 4 | Meta 8 of an event. */
function modifiers(e) {
  return (e.shiftKey ? 1 : 0) | (e.ctrlKey ? 2 : 0) | (e.altKey ? 4 : 0) | (e.metaKey ? 8 : 0);
}

// position parses one computed object-position component ("50%", "12px")
// into the offset of content dispSize long in a box boxSize long.
function position(value, boxSize, dispSize) {
  if (value && value.endsWith('%')) return (boxSize - dispSize) * parseFloat(value) / 100;
  if (value && value.endsWith('px')) return parseFloat(value);
  return (boxSize - dispSize) / 2;
}

/**
 * videoPoint maps a viewport point (clientX, clientY) to the intrinsic pixel
 * of the frame shown by video under it, honouring borders, padding, CSS
 * transforms (scale, translate), object-fit and object-position. It returns
 * { x, y, inside } with x, y clamped to the frame, or null when the video has
 * no frame yet. inside is false in letterbox bars and outside the element.
 */
export function videoPoint(video, clientX, clientY) {
  const vw = video.videoWidth;
  const vh = video.videoHeight;
  if (!vw || !vh || !video.offsetWidth || !video.offsetHeight) return null;
  const r = video.getBoundingClientRect();
  const cs = getComputedStyle(video);
  const px = (name) => parseFloat(cs.getPropertyValue(name)) || 0;
  const left = px('border-left-width') + px('padding-left');
  const top = px('border-top-width') + px('padding-top');
  const cw = video.offsetWidth - left - px('border-right-width') - px('padding-right');
  const ch = video.offsetHeight - top - px('border-bottom-width') - px('padding-bottom');
  if (cw <= 0 || ch <= 0) return null;
  // Layout px inside the content box (getBoundingClientRect is transformed,
  // offsetWidth is not, so their ratio is the CSS scale).
  const lx = (clientX - r.left) * video.offsetWidth / r.width - left;
  const ly = (clientY - r.top) * video.offsetHeight / r.height - top;

  let sx = cw / vw;
  let sy = ch / vh;
  switch (cs.objectFit) {
    case 'contain': sx = sy = Math.min(sx, sy); break;
    case 'cover': sx = sy = Math.max(sx, sy); break;
    case 'none': sx = sy = 1; break;
    case 'scale-down': sx = sy = Math.min(1, sx, sy); break;
    default: break; // fill
  }
  const [posX, posY] = (cs.objectPosition || '50% 50%').split(/\s+/);
  const ox = position(posX, cw, vw * sx);
  const oy = position(posY, ch, vh * sy);
  const fx = (lx - ox) / sx;
  const fy = (ly - oy) / sy;
  const inside = lx >= 0 && lx < cw && ly >= 0 && ly < ch &&
    fx >= 0 && fx < vw && fy >= 0 && fy < vh;
  return {
    x: Math.min(vw - 1, Math.max(0, Math.floor(fx))),
    y: Math.min(vh - 1, Math.max(0, Math.floor(fy))),
    inside,
  };
}

// cleanPaste makes text acceptable to wire.DecodeInput: line breaks become
// "\n", other spaces " ", and runes Go's unicode.IsPrint refuses (controls,
// format characters, lone surrogates, U+FFFD) are dropped. It returns the
// text and how many runes were dropped.
function cleanPaste(text) {
  const s = text.replace(/\r\n?|[\u2028\u2029\u0085]/g, '\n');
  let out = '';
  let dropped = 0;
  for (const ch of s) {
    if (ch === '\n' || ch === '\t' || ch === ' ') out += ch;
    else if (/\p{Zs}/u.test(ch)) out += ' ';
    else if (ch !== '\uFFFD' && /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(ch)) out += ch;
    else dropped++;
  }
  return { text: out, dropped };
}

// isPasteShortcut reports the keys with which the browser fires a paste event
// (Ctrl/Cmd+V, Ctrl+Shift+V, Shift+Insert): they are left to the browser so
// the local clipboard is typed remotely, not forwarded as keys.
function isPasteShortcut(e) {
  if (e.code === 'KeyV') return (e.ctrlKey || e.metaKey) && !e.altKey;
  return e.code === 'Insert' && e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey;
}

/**
 * attachInput forwards the user's input on video through send(string) while
 * video has focus (a click focuses it; it gets tabindex=0).
 *
 * opts.viewOnly (bool, default false): start view-only (nothing is sent).
 * opts.display (0..15, default 0): display index carried by moves.
 * opts.onNotice(message): told when a paste is truncated or cleaned.
 *
 * send must not throw (check the data channel's readyState in it).
 * Returns { detach(), setViewOnly(bool), setDisplay(n), sendCombo(name) }.
 */
export function attachInput(video, send, opts = {}) {
  const notice = typeof opts.onNotice === 'function' ? opts.onNotice : () => {};
  let viewOnly = Boolean(opts.viewOnly);
  let display = 0;
  let detached = false;
  let dirty = false; // something was sent since the last release
  const keys = new Set(); // codes whose kdown was sent and kup not yet
  const buttons = new Set(); // buttons whose down was sent and up not yet
  let pending = null; // {x, y} (normalised) of a move not yet sent
  let lastX = -1;
  let lastY = -1;
  let timer = 0; // setTimeout of the pending move
  let lastMoveAt = -Infinity; // performance.now() of the last move sent
  let wheelX = 0;
  let wheelY = 0;

  function setDisplay(n) {
    if (!Number.isInteger(n) || n < 0 || n > MAX_DISPLAY) {
      throw new RangeError(`display ${n} out of 0..${MAX_DISPLAY}`);
    }
    if (n !== display) { lastX = lastY = -1; }
    display = n;
  }
  setDisplay(opts.display ?? 0);

  function emit(msg) {
    if (viewOnly || detached) return;
    dirty = msg.t !== 'release';
    send(JSON.stringify({ v: VERSION, ...msg }));
  }

  function focused() {
    return document.activeElement === video;
  }

  function cancelMove() {
    if (timer) clearTimeout(timer);
    timer = 0;
  }

  // flushMove sends the pending move now, unless it goes where the last one
  // went (lastX is reset whenever the remote pointer may have moved since:
  // release, view-only, display change).
  function flushMove() {
    cancelMove();
    if (!pending) return;
    const { x, y } = pending;
    pending = null;
    if (x === lastX && y === lastY) return;
    lastX = x;
    lastY = y;
    lastMoveAt = performance.now();
    emit(display ? { t: 'move', d: display, x, y } : { t: 'move', x, y });
  }

  // queueMove records where the pointer is; scheduleMove sends it MOVE_MS
  // after the previous move at the latest, coalescing the moves in between.
  // It returns false when the point is off the picture (letterbox bars,
  // border) and no button is held; with a button held it clamps to the edge
  // so drags reach it.
  function queueMove(e) {
    const p = videoPoint(video, e.clientX, e.clientY);
    if (!p || (!p.inside && buttons.size === 0)) return false;
    pending = {
      x: normCoord(p.x, video.videoWidth),
      y: normCoord(p.y, video.videoHeight),
    };
    return true;
  }

  function scheduleMove() {
    if (timer || !pending) return;
    const wait = lastMoveAt + MOVE_MS - performance.now();
    // Timer delays are whole ms and clocks are coarse: check on firing.
    timer = setTimeout(() => {
      timer = 0;
      scheduleMoveOrFlush();
    }, Math.max(0, Math.ceil(wait)));
  }

  function scheduleMoveOrFlush() {
    if (performance.now() - lastMoveAt >= MOVE_MS) flushMove();
    else scheduleMove();
  }

  function buttonDown(b) {
    if (buttons.has(b)) return;
    flushMove();
    buttons.add(b);
    emit({ t: 'down', b });
  }

  function buttonUp(b) {
    if (!buttons.has(b)) return;
    flushMove();
    buttons.delete(b);
    emit({ t: 'up', b });
  }

  function releaseAll() {
    cancelMove();
    pending = null;
    keys.clear();
    buttons.clear();
    wheelX = wheelY = 0;
    lastX = lastY = -1;
    if (dirty) emit({ t: 'release' });
    dirty = false;
  }

  function onPointerDown(e) {
    e.preventDefault(); // no text selection or middle-click autoscroll
    if (!focused()) video.focus({ preventScroll: true });
    if (viewOnly || e.button < 0 || e.button > 2) return;
    if (!queueMove(e)) return; // letterbox: nothing
    try { video.setPointerCapture(e.pointerId); } catch { /* pointer already gone */ }
    buttonDown(e.button);
  }

  function onPointerMove(e) {
    if (viewOnly || !focused()) return;
    // A second button pressed or released while another is held arrives as
    // a pointermove with button set (chorded buttons).
    if (e.button >= 0 && e.button <= 2) {
      const down = (e.buttons & BUTTON_BITS[e.button]) !== 0;
      if (queueMove(e) || !down) {
        if (down) buttonDown(e.button);
        else buttonUp(e.button);
      }
      return;
    }
    // Send at once unless a move went out less than MOVE_MS ago: a timer
    // here would add a task delay to every isolated move.
    if (queueMove(e)) scheduleMoveOrFlush();
  }

  function onPointerUp(e) {
    if (viewOnly || !buttons.has(e.button)) return;
    queueMove(e);
    buttonUp(e.button);
  }

  function onPointerCancel() {
    for (const b of [...buttons]) buttonUp(b);
  }

  function onContextMenu(e) {
    e.preventDefault();
  }

  function onWheel(e) {
    if (viewOnly || !focused()) return;
    const p = videoPoint(video, e.clientX, e.clientY);
    if (!p || !p.inside) return;
    e.preventDefault();
    queueMove(e);
    flushMove();
    const unit = e.deltaMode === 1 ? LINE_PX : e.deltaMode === 2 ? PAGE_PX : 1;
    const step = (acc, delta) => {
      const d = delta * unit;
      if (d === 0) return [acc, 0];
      if (Math.sign(acc) !== 0 && Math.sign(acc) !== Math.sign(d)) acc = 0; // turned around
      acc += d;
      let n = Math.trunc(acc / NOTCH_PX);
      if (n === 0 && Math.abs(d) >= HALF_NOTCH) {
        n = Math.sign(d);
        acc = 0;
      } else {
        acc -= n * NOTCH_PX;
      }
      return [acc, Math.max(-MAX_WHEEL, Math.min(MAX_WHEEL, n))];
    };
    let dx;
    let dy;
    [wheelX, dx] = step(wheelX, e.deltaX);
    [wheelY, dy] = step(wheelY, e.deltaY);
    if (dx !== 0 || dy !== 0) emit({ t: 'wheel', dx, dy });
  }

  function keyMsg(t, code, m) {
    return m ? { t, c: code, m } : { t, c: code };
  }

  function onKeyDown(e) {
    if (viewOnly || e.isComposing || e.keyCode === 229) return;
    if (isPasteShortcut(e)) return; // the browser fires paste
    if (!ALLOWED.has(e.code)) return;
    e.preventDefault();
    keys.add(e.code);
    emit(keyMsg('kdown', e.code, modifiers(e)));
  }

  function onKeyUp(e) {
    if (viewOnly || !ALLOWED.has(e.code)) return;
    e.preventDefault();
    if (!keys.has(e.code)) return;
    keys.delete(e.code);
    emit(keyMsg('kup', e.code, modifiers(e)));
  }

  function onPaste(e) {
    if (viewOnly) return;
    e.preventDefault();
    const raw = e.clipboardData ? e.clipboardData.getData('text/plain') : '';
    const { text, dropped } = cleanPaste(raw);
    const runes = Array.from(text);
    if (runes.length === 0) {
      if (raw) notice('Nothing to paste: the clipboard holds no printable text.');
      return;
    }
    // Modifiers held for the shortcut (Ctrl of Ctrl+V) must not apply to
    // the typed text: release them remotely first.
    for (const code of [...keys]) {
      if (/^(Shift|Control|Alt|Meta)(Left|Right)$/.test(code)) {
        keys.delete(code);
        emit({ t: 'kup', c: code });
      }
    }
    let s = text;
    if (runes.length > MAX_PASTE_RUNES) {
      s = runes.slice(0, MAX_PASTE_RUNES).join('');
      notice(`Paste truncated to ${MAX_PASTE_RUNES} of ${runes.length} characters.`);
    }
    if (dropped > 0) notice(`Paste: ${dropped} unprintable characters left out.`);
    emit({ t: 'paste', s });
  }

  function onBlur() {
    releaseAll();
  }

  function onVisibility() {
    if (document.visibilityState === 'hidden') releaseAll();
  }

  const addedTabIndex = !video.hasAttribute('tabindex');
  if (addedTabIndex) video.setAttribute('tabindex', '0');
  const listeners = [
    [video, 'pointerdown', onPointerDown],
    [video, 'pointermove', onPointerMove],
    [video, 'pointerup', onPointerUp],
    [video, 'pointercancel', onPointerCancel],
    [video, 'contextmenu', onContextMenu],
    [video, 'wheel', onWheel, { passive: false }],
    [video, 'keydown', onKeyDown],
    [video, 'keyup', onKeyUp],
    [video, 'paste', onPaste],
    [video, 'blur', onBlur],
    [document, 'visibilitychange', onVisibility],
  ];
  // pointerrawupdate (secure contexts) fires as the OS delivers the motion;
  // pointermove is aligned to animation frames, up to a frame later. Both
  // feed the same coalescing, and a repeat of the position sent is skipped.
  if ('onpointerrawupdate' in window) listeners.push([video, 'pointerrawupdate', onPointerMove]);
  for (const [target, type, fn, o] of listeners) target.addEventListener(type, fn, o);

  return {
    /** detach releases everything remotely and stops listening. */
    detach() {
      if (detached) return;
      releaseAll();
      detached = true;
      for (const [target, type, fn, o] of listeners) target.removeEventListener(type, fn, o);
      if (addedTabIndex) video.removeAttribute('tabindex');
    },
    /** setViewOnly(true) releases what is held, then sends nothing. */
    setViewOnly(on) {
      if (on && !viewOnly) releaseAll();
      viewOnly = Boolean(on);
    },
    /** setDisplay sets the display index (0..15) carried by moves. */
    setDisplay,
    /**
     * sendCombo sends the key sequence of one of COMBO_NAMES
     * ('ctrl-alt-del', 'alt-tab', 'win', 'alt-f4', 'print-screen').
     */
    sendCombo(name) {
      const steps = Object.hasOwn(COMBOS, name) ? COMBOS[name] : null;
      if (!steps) throw new RangeError(`unknown key combination ${name}`);
      for (const [t, code, m] of steps) emit(keyMsg(t, code, m));
    },
  };
}
