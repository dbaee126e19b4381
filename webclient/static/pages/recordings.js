// pages/recordings.js: session recordings for admins and auditors: a list
// filtered by device, user and date, and a player that streams the WebM
// files with range requests (the <video> element asks for them), with
// play/pause, seek, 1×/2×/4×, a timeline of the recording's events (click to
// jump) and the input overlay (pointer, clicks, key presses) drawn over the
// video. Opening the player is audited by the broker.
import { api } from '../api.js';
import { el, clear, table } from '../dom.js';

const FILTERS = [['device', 'Device id', 'text'], ['user', 'User', 'text'], ['since', 'From', 'date'], ['until', 'To', 'date']];

const fmtTime = (ms) => {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};
const fmtSize = (n) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${Math.ceil(n / 1024)} KiB`);

export async function recordingsPage(main) {
  const list = el('div', { id: 'rec-list' });
  const inputs = Object.fromEntries(FILTERS.map(([k, , type]) => [k, el('input', { id: `rec-filter-${k}`, type })]));
  const form = el('form', { class: 'card inline' },
    ...FILTERS.map(([k, label]) => el('label', {}, label, inputs[k])), el('button', { id: 'rec-filter', type: 'submit' }, 'Filter'));
  const load = async () => {
    const q = new URLSearchParams();
    for (const [k] of FILTERS) if (inputs[k].value.trim()) q.set(k, inputs[k].value.trim());
    const recs = await api('GET', `/api/recordings?${q}`);
    clear(list);
    if (!recs.length) { list.append(el('p', { class: 'empty' }, 'No recordings.')); return; }
    list.append(table(['Started', 'Device', 'User', 'Duration', 'Size', 'State', ''], recs.map((r) => el('tr', { 'data-recording': r.id },
      el('td', {}, new Date(r.started_at).toLocaleString()), el('td', {}, r.hostname || r.device_id), el('td', {}, r.requester),
      el('td', {}, r.state === 'recording' ? '…' : fmtTime(r.duration_ms)), el('td', {}, fmtSize(r.size)),
      el('td', { title: r.error || '' }, r.state),
      el('td', {}, r.state === 'deleted' ? '' : el('a', { href: `#/recordings/${r.id}`, class: 'button' }, 'Play'))))));
  };
  form.addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  main.append(el('h1', {}, 'Recordings'), form, list);
  await load();
}

// parseEvents reads the sidecar (one JSON object per line); a line cut by a
// crash is skipped.
function parseEvents(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try { out.push(JSON.parse(line)); } catch { /* torn last line */ }
  }
  return out;
}

const LABELS = { down: 'click', up: 'release', kdown: 'key', kup: 'key up', move: 'move', wheel: 'wheel', paste: 'paste', release: 'release all' };

// A recording keeps key presence by default: keys that type a character
// are an anonymous "key" (shown as a dot), named keys (Enter, Tab, arrows…)
// keep their name; recording.keystrokes = full keeps every code.
const ANONYMOUS_KEY = 'key';
const MODS = [[2, 'Ctrl'], [4, 'Alt'], [8, 'Meta']];

// keyName is how the timeline names a key event ('' for an anonymous one).
function keyName(d) {
  const c = d.c || d.code || '';
  return c === ANONYMOUS_KEY ? '' : c;
}

// keyCap is how the overlay shows a key press: modifiers held, then the
// key's name or a dot.
function keyCap(d) {
  const mods = MODS.filter(([bit]) => (d.m || 0) & bit).map(([, name]) => name + '+').join('');
  return mods + (keyName(d) || '•');
}

function describe(e) {
  const d = e.data || {};
  switch (e.kind) {
    case 'input':
      if (d.t === 'down' || d.t === 'up') return `${LABELS[d.t]} (button ${d.b})`;
      if (d.t === 'kdown' || d.t === 'kup') return `${LABELS[d.t]}${keyName(d) ? ' ' + keyName(d) : ''}`;
      if (d.t === 'paste') return `paste (${d.len} characters)`;
      return LABELS[d.t] || d.t;
    case 'view_only': return d.view_only ? 'view-only on' : 'control on';
    case 'display': return `monitor ${d.display}`;
    case 'consent': return `consent: ${d.answer}`;
    case 'countdown': return `countdown: ${d.remaining_seconds}s left`;
    case 'end': return `end: ${d.reason}`;
    case 'segment': return `video ${d.width}×${d.height}`;
    case 'video_gap': return 'video lost';
    case 'error': return `recording error: ${d.error || ''}`;
    default: return e.kind;
  }
}

// recordingPage is #/recordings/ID: the player.
export async function recordingPage(main, ctx) {
  const id = ctx.args[0];
  const rec = await api('GET', `/api/recordings/${id}`);
  const segFiles = (rec.files || []).filter((f) => f.n > 0);
  const res = await fetch(`/api/recordings/${id}/files/0`, { credentials: 'same-origin' });
  if (!res.ok) throw new Error(`events: ${res.status}`);
  const events = parseEvents(await res.text());
  // Each video file starts at its "segment" event; every other event sits at
  // (ms − segment.ms) within the file that was playing.
  const segStart = new Map(events.filter((e) => e.kind === 'segment').map((e) => [e.data.n, e.ms]));
  const segOf = (ms) => {
    let n = segFiles.length ? segFiles[0].n : 1;
    for (const f of segFiles) if (segStart.has(f.n) && segStart.get(f.n) <= ms) n = f.n;
    return n;
  };
  const base = segStart.get(1) ?? 0;
  const inputs = events.filter((e) => e.kind === 'input');
  const shown = events.filter((e) => e.kind !== 'input' || ['down', 'kdown', 'paste', 'wheel'].includes(e.data?.t));

  const video = el('video', { id: 'rec-video', preload: 'auto', playsinline: true });
  const overlay = el('canvas', { id: 'rec-overlay', class: 'rec-overlay' });
  const keys = el('div', { id: 'rec-keys', class: 'rec-keys' });
  const play = el('button', { id: 'rec-play', type: 'button' }, 'Play');
  const seek = el('input', { id: 'rec-seek', type: 'range', min: '0', max: '0', step: '0.01', value: '0' });
  const clock = el('span', { id: 'rec-time', class: 'mono' }, '0:00');
  const speeds = [1, 2, 4].map((r) => el('button', { id: `rec-speed-${r}`, type: 'button', class: r === 1 ? 'on' : '' }, `${r}×`));
  const segPick = el('select', { id: 'rec-segment', hidden: segFiles.length < 2 },
    segFiles.map((f) => el('option', { value: String(f.n) }, `part ${f.n}`)));
  let cur = 0; // the segment number loaded
  let pendingSeek = null;
  let rate = 1;

  const load = (n, at = 0) => {
    if (n !== cur) {
      cur = n;
      segPick.value = String(n);
      pendingSeek = at;
      video.src = `/api/recordings/${id}/files/${n}`;
      video.playbackRate = rate;
    } else {
      video.currentTime = at;
    }
  };
  video.addEventListener('loadedmetadata', () => {
    seek.max = String(video.duration || 0);
    video.playbackRate = rate;
    if (pendingSeek != null) { video.currentTime = pendingSeek; pendingSeek = null; }
  });
  video.addEventListener('ended', () => {
    const i = segFiles.findIndex((f) => f.n === cur);
    if (i >= 0 && i + 1 < segFiles.length) { load(segFiles[i + 1].n); video.play(); }
  });
  video.addEventListener('play', () => { play.textContent = 'Pause'; });
  video.addEventListener('pause', () => { play.textContent = 'Play'; });
  play.addEventListener('click', () => (video.paused ? video.play() : video.pause()));
  seek.addEventListener('input', () => { video.currentTime = Number(seek.value); });
  speeds.forEach((b, i) => b.addEventListener('click', () => {
    rate = [1, 2, 4][i];
    video.playbackRate = rate;
    speeds.forEach((x) => x.classList.toggle('on', x === b));
  }));
  segPick.addEventListener('change', () => load(Number(segPick.value)));

  // jump shows the moment ms of the recording.
  const jump = (ms) => {
    const n = segOf(ms);
    load(n, Math.max(0, (ms - (segStart.get(n) ?? base)) / 1000));
  };
  const timeline = el('ol', { id: 'rec-timeline', class: 'rec-timeline' }, shown.map((e) => el('li', {},
    el('a', { href: '#', class: 'rec-event', 'data-kind': e.kind, 'data-t': e.data?.t || '', 'data-ms': String(e.ms),
      onclick: (ev) => { ev.preventDefault(); jump(e.ms); } },
    el('span', { class: 'mono' }, fmtTime(e.ms - base)), ' ', describe(e)))));

  // The overlay: the pointer where the last move put it, a ring for a click
  // in the last 600 ms, and the keys pressed in the last 2 s.
  let raf = 0;
  const draw = () => {
    raf = requestAnimationFrame(draw);
    // Whole ms, as the events are: a jump to an event sets currentTime to
    // its ms / 1000, which reads back a hair early (binary fractions, the
    // media clock's µs) and would leave the event itself "in the future".
    const now = (segStart.get(cur) ?? base) + Math.round(video.currentTime * 1000);
    clock.textContent = `${fmtTime(now - base)} / ${fmtTime(rec.duration_ms)}`;
    if (document.activeElement !== seek) seek.value = String(video.currentTime);
    const w = video.clientWidth, h = video.clientHeight;
    if (overlay.width !== w || overlay.height !== h) { overlay.width = w; overlay.height = h; }
    const g = overlay.getContext('2d');
    g.clearRect(0, 0, w, h);
    if (!video.videoWidth) return;
    // Where the picture sits inside the element (object-fit: contain).
    const s = Math.min(w / video.videoWidth, h / video.videoHeight);
    const pw = video.videoWidth * s, ph = video.videoHeight * s, ox = (w - pw) / 2, oy = (h - ph) / 2;
    let pos = null;
    const clicks = [], typed = [];
    for (const e of inputs) {
      if (e.ms > now) break;
      const d = e.data || {};
      if (d.t === 'move') pos = [d.x, d.y];
      if (d.t === 'down' && now - e.ms < 600) clicks.push(pos);
      if (d.t === 'kdown' && now - e.ms < 2000) typed.push(keyCap(d));
    }
    const at = (p) => [ox + (p[0] / 65535) * pw, oy + (p[1] / 65535) * ph];
    for (const p of clicks) {
      if (!p) continue;
      const [x, y] = at(p);
      g.strokeStyle = '#f59e0b'; g.lineWidth = 3; g.beginPath(); g.arc(x, y, 14, 0, 2 * Math.PI); g.stroke();
    }
    if (pos) {
      const [x, y] = at(pos);
      g.fillStyle = '#ef4444'; g.strokeStyle = '#fff'; g.lineWidth = 1.5;
      g.beginPath(); g.moveTo(x, y); g.lineTo(x + 12, y + 5); g.lineTo(x + 5, y + 12); g.closePath(); g.fill(); g.stroke();
    }
    keys.textContent = typed.join(' ');
    keys.hidden = typed.length === 0;
  };
  raf = requestAnimationFrame(draw);

  main.append(el('h1', {}, 'Recording'),
    el('p', { class: 'muted' }, `${rec.hostname || rec.device_id} · ${rec.requester} · ${new Date(rec.started_at).toLocaleString()} · `,
      el('a', { href: `#/audit/sessions/${id}` }, 'session details')),
    segFiles.length
      ? el('div', { class: 'rec-player' }, el('div', { class: 'rec-stage' }, video, overlay, keys),
        el('div', { class: 'viewer-bar' }, play, seek, clock, ...speeds, segPick))
      : el('p', { class: 'empty' }, 'This recording has no video (no keyframe arrived).'),
    el('h2', {}, 'Events'), timeline);
  if (segFiles.length) load(segFiles[0].n);
  window.portholePlayer = { video, events, jump, segment: () => cur };
  return () => { cancelAnimationFrame(raf); video.pause(); video.removeAttribute('src'); video.load(); delete window.portholePlayer; };
}
