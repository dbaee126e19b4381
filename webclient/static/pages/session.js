// pages/session.js: the remote-support viewer. The broker is the WebRTC
// offerer; this page answers (non-trickle), shows the relayed video as soon
// as frames decode (jitterBufferTarget 0), sends input on the "input" data
// channel the broker created, and ends the session with Off or by leaving.
import { api } from '../api.js';
import { el, clear } from '../dom.js';
import { attachInput } from '../input.js';

const STATE_TEXT = {
  waiting_consent: 'Waiting for the end user to allow the connection…',
  declined: 'Declined by the end user',
  connecting: 'Connecting…',
  live: 'Live',
  ended: 'Session ended',
};

export async function startSession(deviceId, opts = {}) {
  const body = { device_id: deviceId, display: opts.display || 0 };
  if (opts.viewOnly !== undefined) body.view_only = opts.viewOnly;
  if (opts.unattended) body.unattended = true;
  const s = await api('POST', '/api/sessions', body);
  location.hash = `#/sessions/${s.id}`;
}

function waitGathering(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => {
      if (pc.iceGatheringState === 'complete') {
        pc.removeEventListener('icegatheringstatechange', check);
        resolve();
      }
    };
    pc.addEventListener('icegatheringstatechange', check);
    setTimeout(resolve, 5000); // send what we have rather than hang
  });
}

export async function sessionPage(main, ctx) {
  const id = ctx.args[0];
  let info = await api('GET', `/api/sessions/${id}`);
  const device = await api('GET', `/api/devices/${info.device_id}`).catch(() => null);

  const state = el('span', { id: 'session-state', class: 'state' }, STATE_TEXT[info.state] || info.state);
  const reason = el('span', { id: 'session-reason', class: 'reason' });
  const mode = el('span', { id: 'session-mode', class: 'badge' });
  const conn = el('span', { id: 'session-conn', class: 'muted' });
  // Time left comes from the broker (its clock owns expiry), never from this page's clock.
  const timeLeft = el('span', { id: 'session-expiry', class: 'muted' });
  const countdown = el('div', { id: 'session-countdown', class: 'countdown', hidden: true });
  const extendBtn = el('button', { id: 'session-extend', type: 'button', hidden: true }, 'Extend');
  const video = el('video', { id: 'remote-video', autoplay: true, muted: true, playsinline: true, tabindex: '0', class: 'fit' });
  video.muted = true;
  const off = el('button', { id: 'session-off', class: 'danger' }, 'Off');
  const fit = el('button', { id: 'session-fit', type: 'button' }, '1:1');
  const viewOnlyBtn = el('button', { id: 'session-viewonly', type: 'button' }, 'Switch to view only');
  const displaySel = el('select', { id: 'session-display' },
    (device?.displays || [{ index: 0, width: 0, height: 0 }]).map((d) =>
      el('option', { value: String(d.index) }, `Display ${d.index + 1}${d.width ? ` (${d.width}×${d.height})` : ''}`)));
  displaySel.value = String(info.display);
  const combos = el('span', { class: 'combos' },
    [['ctrl-alt-del', 'Ctrl+Alt+Del'], ['alt-tab', 'Alt+Tab'], ['win', 'Win'], ['alt-f4', 'Alt+F4'], ['print-screen', 'PrtSc']]
      .map(([name, label]) => el('button', { type: 'button', 'data-combo': name, onclick: () => input && input.sendCombo(name) }, label)));
  const stage = el('div', { class: 'stage' }, video);

  main.append(
    el('div', { class: 'viewer-bar' },
      el('strong', {}, info.hostname), ' ', el('span', { class: 'muted' }, device?.user ? `user ${device.user}` : ''),
      ' ', mode, ' ', state, ' ', reason, ' ', conn, ' ', timeLeft, extendBtn,
      el('span', { class: 'spacer' }),
      displaySel, fit, viewOnlyBtn, combos, off),
    countdown, stage);

  let pc = null;
  let channel = null;
  let input = null;
  let ended = false;
  const viewer = { pc: null, video, state: info.state, sendInput: (obj) => channel && channel.readyState === 'open' && channel.send(JSON.stringify(obj)) };
  window.portholeViewer = viewer;

  const showMode = () => {
    mode.textContent = info.view_only ? 'View only' : 'Control';
    mode.className = 'badge ' + (info.view_only ? 'viewonly' : 'control');
    viewOnlyBtn.textContent = info.view_only ? 'Take control' : 'Switch to view only';
    combos.hidden = info.view_only;
    if (input) input.setViewOnly(info.view_only);
  };
  showMode();

  const setState = (st, why) => {
    info.state = st;
    viewer.state = st;
    state.textContent = STATE_TEXT[st] || st;
    state.className = 'state ' + st;
    reason.textContent = why ? `— ${why}` : '';
    if (st === 'ended' || st === 'declined') finish();
  };

  const fmt = (n) => `${Math.floor(n / 60)}:${String(n % 60).padStart(2, '0')}`;
  const showExpiry = (remaining, canExtend) => {
    viewer.remaining = remaining;
    timeLeft.textContent = remaining ? `Time left ${fmt(remaining)}` : '';
    countdown.hidden = !(remaining > 0 && remaining <= 120) || ended;
    countdown.textContent = `Session ends in ${fmt(remaining)}`;
    if (canExtend !== undefined) extendBtn.hidden = !canExtend;
  };
  if (info.remaining_seconds) showExpiry(info.remaining_seconds, info.can_extend);

  const finish = () => {
    if (ended) return;
    ended = true;
    countdown.hidden = true;
    extendBtn.hidden = true;
    off.disabled = true;
    if (input) { input.detach(); input = null; }
    if (pc) { pc.close(); }
    video.classList.add('over');
  };

  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(`${proto}//${location.host}/api/sessions/${id}/signal`);
  ws.onmessage = async (m) => {
    const ev = JSON.parse(m.data);
    if (ev.type === 'state') setState(ev.state, ev.reason);
    else if (ev.type === 'error') reason.textContent = `— ${ev.reason}`;
    else if (ev.type === 'expiry') showExpiry(ev.remaining_seconds);
    else if (ev.type === 'offer') await answer(ev.sdp);
  };
  ws.onclose = () => {
    if (!ended) {
      setState('ended', info.state === 'ended' ? '' : 'connection to the broker lost');
    }
  };

  async function answer(sdp) {
    pc = new RTCPeerConnection({});
    viewer.pc = pc;
    pc.ontrack = (e) => {
      try { e.receiver.jitterBufferTarget = 0; } catch { /* older browsers */ }
      video.srcObject = e.streams[0] || new MediaStream([e.track]);
      video.play().catch(() => {});
    };
    pc.ondatachannel = (e) => {
      if (e.channel.label !== 'input') return;
      channel = e.channel;
      input = attachInput(video, (msg) => { if (channel.readyState === 'open') channel.send(msg); }, {
        viewOnly: info.view_only,
        display: Number(displaySel.value),
        onNotice: (t) => { reason.textContent = `— ${t}`; },
      });
    };
    pc.onconnectionstatechange = () => { conn.textContent = pc.connectionState; };
    await pc.setRemoteDescription({ type: 'offer', sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await waitGathering(pc);
    ws.send(JSON.stringify({ type: 'answer', sdp: pc.localDescription.sdp }));
  }

  off.addEventListener('click', async () => {
    off.disabled = true;
    try { await api('POST', `/api/sessions/${id}/end`); } catch (e) { reason.textContent = `— ${e.message}`; }
  });
  extendBtn.addEventListener('click', async () => {
    try {
      info = await api('POST', `/api/sessions/${id}/extend`);
      showExpiry(info.remaining_seconds, info.can_extend);
    } catch (e) { reason.textContent = `— ${e.message}`; }
  });
  fit.addEventListener('click', () => {
    const one = video.classList.toggle('one');
    video.classList.toggle('fit', !one);
    stage.classList.toggle('scroll', one);
    fit.textContent = one ? 'Fit' : '1:1';
  });
  viewOnlyBtn.addEventListener('click', async () => {
    try {
      info = await api('POST', `/api/sessions/${id}/view-only`, { view_only: !info.view_only });
      showMode();
    } catch (e) { reason.textContent = `— ${e.message}`; }
  });
  displaySel.addEventListener('change', async () => {
    try {
      info = await api('POST', `/api/sessions/${id}/display`, { display: Number(displaySel.value) });
      if (input) input.setDisplay(info.display);
    } catch (e) { reason.textContent = `— ${e.message}`; }
  });
  if (info.state === 'ended' || info.state === 'declined') setState(info.state, info.end_reason);

  // Leaving the page ends the session (the broker sees the socket close).
  return () => { finish(); ws.close(); };
}
