// pages/devices.js: the inventory (live online/offline) and a device's details.
import { api, events } from '../api.js';
import { banner } from '../app.js';
import { el, clear, ago, table } from '../dom.js';
import { startSession } from './session.js';
import { elevationPanel } from './elevation.js';
import { breakGlassPanel } from './breakglass.js';
import { deviceSettingsPanel } from './settings.js';

// The broker lists the caller's rights on each device (role or access
// grant) and checks them again on every call.
const may = (d, right) => (d.rights || []).includes(right);

function status(d) {
  if (d.revoked) return el('span', { class: 'badge revoked' }, 'revoked');
  return d.online ? el('span', { class: 'badge online' }, 'online') : el('span', { class: 'badge offline' }, 'offline');
}

export async function devicesPage(main, ctx) {
  const body = el('div');
  main.append(el('h1', {}, 'Inventory'), body);
  let devices = [];
  const render = () => {
    clear(body);
    if (devices.length === 0) {
      body.append(el('p', { class: 'empty' }, 'No devices yet. Create an enrollment token (Enrollment) and run ',
        el('code', {}, 'porthole-agent enroll --broker URL --token TOKEN'), ' on an endpoint.'));
      return;
    }
    body.append(table(['Device', 'Status', 'OS', 'User', 'Last seen', 'Agent', ''],
      devices.map((d) => el('tr', { 'data-device': d.id, class: d.online ? 'is-online' : 'is-offline' },
        el('td', {}, el('a', { href: `#/devices/${d.id}` }, d.hostname)),
        el('td', { class: 'status' }, status(d)),
        el('td', {}, `${d.os} ${d.arch}`),
        el('td', {}, d.user || '—'),
        el('td', { class: 'seen', title: d.last_seen }, ago(d.last_seen)),
        el('td', {}, d.agent_version),
        el('td', {}, may(d, 'connect') && d.online && !d.revoked
          ? el('button', { class: 'support', 'data-support': d.id, onclick: (ev) => go(ev.target, d.id) }, 'Support') : '')))));
  };
  const go = async (btn, id) => {
    btn.disabled = true;
    try { await startSession(id); } catch (e) { btn.disabled = false; banner(e.message); }
  };
  const load = async () => { devices = await api('GET', '/api/devices'); render(); };
  await load();
  // Heartbeats only move "last seen": update that cell in place, so rows
  // (and the Support button under the user's pointer) are not rebuilt.
  const refreshSeen = () => {
    for (const d of devices) {
      const cell = body.querySelector(`tr[data-device="${d.id}"] td.seen`);
      if (cell) { cell.textContent = ago(d.last_seen); cell.title = d.last_seen; }
    }
  };
  const stop = events((ev) => {
    if (ev.type !== 'device') return;
    const d = devices.find((x) => x.id === ev.id);
    if (!d) { load(); return; }
    const changed = d.online !== ev.data.online;
    d.online = ev.data.online;
    d.last_seen = ev.data.last_seen;
    if (changed) render(); else refreshSeen();
  }, load);
  const tick = setInterval(refreshSeen, 15000);
  return () => { stop(); clearInterval(tick); };
}

// unattendedPolicy says what the endpoint itself allows (its agent's
// policy, set where it is installed; the broker cannot change it).
function unattendedPolicy(p) {
  if (p === 'allow') return 'allowed by the endpoint\'s own policy';
  if (p === 'deny') return 'refused by the endpoint\'s own policy (the end user is always asked)';
  return 'not reported (an older agent)';
}

// CAPTURE_METHODS names how an agent captures the screen (its inventory).
const CAPTURE_METHODS = {
  'x11-shm': 'X11 (MIT-SHM, woken by XDamage)',
  dxgi: 'DXGI Desktop Duplication',
  gdi: 'GDI BitBlt (polled; DXGI is not available)',
};

function captureMethod(m) {
  if (!m) return 'not reported (an older agent, or no screen to capture)';
  return CAPTURE_METHODS[m] || m;
}

export async function devicePage(main, ctx) {
  const id = ctx.args[0];
  const body = el('div');
  // The Break Glass panel lives outside body: a device going on- or
  // offline re-renders body, and must not wipe credentials shown once.
  const bgBox = el('div');
  main.append(el('p', {}, el('a', { href: '#/devices' }, '← Inventory')), body, bgBox);
  let d;
  let elevation; // built once: it holds a code shown once
  const render = () => {
    clear(body);
    body.append(
      el('h1', {}, d.hostname, ' ', status(d)),
      el('dl', { class: 'facts' },
        el('dt', {}, 'Device id'), el('dd', {}, el('code', {}, d.id)),
        el('dt', {}, 'Operating system'), el('dd', {}, `${d.os} (${d.arch})`),
        el('dt', {}, 'Logged-in user'), el('dd', {}, d.user || '—'),
        el('dt', {}, 'Agent version'), el('dd', {}, d.agent_version || '—'),
        el('dt', {}, 'Displays'), el('dd', {}, d.displays.map((x) => `${x.width}×${x.height}`).join(', ') || '—'),
        el('dt', {}, 'Screen capture'), el('dd', { id: 'device-capture' }, captureMethod(d.capture_method)),
        el('dt', {}, 'Enrolled'), el('dd', {}, new Date(d.enrolled_at).toLocaleString()),
        el('dt', {}, 'Last seen'), el('dd', { id: 'device-seen' }, ago(d.last_seen)),
        el('dt', {}, 'Unattended access'), el('dd', { id: 'device-unattended-policy' }, unattendedPolicy(d.unattended_policy))));
    if (may(d, 'connect') && !d.revoked) {
      const viewOnly = el('input', { type: 'checkbox', id: 'rs-viewonly' });
      const unattended = el('input', { type: 'checkbox', id: 'rs-unattended' });
      const err = el('p', { class: 'error', id: 'rs-error' });
      const btn = el('button', { id: 'rs-screenshare', disabled: !d.online, onclick: async () => {
        btn.disabled = true;
        err.textContent = '';
        try {
          await startSession(id, { viewOnly: viewOnly.checked || undefined, unattended: unattended.checked || undefined });
        } catch (e) { err.textContent = e.message; btn.disabled = false; }
      } }, 'Screenshare');
      const section = el('section', { class: 'panel', id: 'remote-support' }, el('h2', {}, 'Remote Support'),
        el('p', {}, d.online ? 'The end user is asked to allow the connection.' : 'The device is offline.'),
        el('label', { class: 'check' }, viewOnly, ' View only'));
      // Only an unattended-access grant lets a session skip the prompt.
      if (may(d, 'unattended')) {
        section.append(el('label', { class: 'check' }, unattended, ' Connect without asking (unattended access grant)',
          d.unattended_policy === 'allow' ? '' : el('span', { class: 'muted' }, ' — this endpoint\'s own policy refuses it')));
      }
      section.append(btn, err);
      body.append(section);
    }
    if (elevation) body.append(elevation);
    body.append(deviceSettingsPanel(id, ctx.me));
    if (ctx.me.role === 'admin' && !d.revoked) {
      body.append(el('section', { class: 'panel' }, el('h2', {}, 'Device'),
        el('button', { class: 'danger', onclick: async () => {
          if (!confirm(`Revoke ${d.hostname}? Its agent will be disconnected and refused until re-enrolled.`)) return;
          await api('POST', `/api/devices/${id}/revoke`);
          d = await api('GET', `/api/devices/${id}`);
          render();
        } }, 'Revoke device')));
    }
  };
  d = await api('GET', `/api/devices/${id}`);
  elevation = elevationPanel(d, ctx.me);
  render();
  const stopBG = d.revoked ? () => {} : breakGlassPanel(bgBox, id, may(d, 'break_glass'));
  const stopEvents = events((ev) => {
    if (ev.type !== 'device' || ev.id !== id) return;
    const changed = d.online !== ev.data.online;
    d.online = ev.data.online;
    d.last_seen = ev.data.last_seen;
    // Only a change of state rebuilds the page (and its form controls).
    if (changed) render();
    else { const seen = document.getElementById('device-seen'); if (seen) seen.textContent = ago(d.last_seen); }
  }, async () => { d = await api('GET', `/api/devices/${id}`); render(); });
  return () => { stopEvents(); stopBG(); };
}
