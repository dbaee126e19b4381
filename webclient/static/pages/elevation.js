// pages/elevation.js: a device's Elevation panel — issue a temporary admin
// code (shown once) and list elevation sessions with what ran elevated.
import { api } from '../api.js';
import { el, clear, table } from '../dom.js';

// Issuing is by role or by an elevation_codes grant: the device's rights say.
const canIssue = (d) => (d.rights || []).includes('elevation_codes');
const canView = (me) => me.role === 'admin' || me.role === 'auditor';
const when = (iso) => (iso && !iso.startsWith('0001') ? new Date(iso).toLocaleString() : '—');

// elevationPanel returns the panel for device d, or null when the role may
// neither issue codes nor read records. Build it once per page: the code it
// shows must survive the page re-rendering on online/offline changes.
export function elevationPanel(d, me) {
  if (!canIssue(d) && !canView(me)) return null;
  const panel = el('section', { class: 'panel', id: 'elevation' }, el('h2', {}, 'Elevation'));
  if (canIssue(d) && !d.revoked) panel.append(issueForm(d));
  if (canView(me)) {
    const list = el('div', { id: 'elev-sessions' });
    const refresh = el('button', { id: 'elev-refresh', onclick: () => loadSessions(d.id, list) }, 'Refresh');
    panel.append(el('h3', {}, 'Elevation sessions ', refresh), list);
    loadSessions(d.id, list);
  }
  return panel;
}

function issueForm(d) {
  const userIn = el('input', { id: 'elev-user', placeholder: 'local user (empty: any user)', value: d.user || '' });
  const minutes = el('input', { id: 'elev-minutes', type: 'number', min: 5, step: 5, value: 30 });
  const err = el('p', { class: 'error', id: 'elev-error' });
  const result = el('div', { id: 'elev-result' });
  api('GET', `/api/settings?device=${encodeURIComponent(d.id)}`).then((vals) => {
    const max = (vals || []).find((v) => v.key === 'elevation.max_minutes');
    if (max) {
      minutes.max = max.value;
      if (Number(minutes.value) > Number(max.value)) minutes.value = max.value;
    }
  }).catch(() => {});
  const btn = el('button', { id: 'elev-issue', onclick: async () => {
    err.textContent = '';
    clear(result);
    btn.disabled = true;
    try {
      const c = await api('POST', `/api/devices/${d.id}/elevation-codes`, { user: userIn.value.trim(), minutes: Number(minutes.value) });
      result.append(
        el('p', {}, `Code for ${c.user || 'any user'}, ${c.minutes} minutes. It is shown once; enter it before ${new Date(c.valid_until).toLocaleTimeString()} with `,
          el('code', {}, 'porthole-agent elevate'), ' on the device (works offline):'),
        el('input', { readonly: true, value: c.code, id: 'elev-code', class: 'mono' }));
    } catch (e) {
      err.textContent = e.message;
    } finally {
      btn.disabled = false;
    }
  } }, 'Issue code');
  return el('div', { class: 'elev-issue' },
    el('p', {}, 'A temporary admin code makes a local user an administrator for a while; the device verifies it without reaching the broker.'),
    el('label', {}, 'User ', userIn), ' ', el('label', {}, 'Minutes ', minutes), ' ', btn, err, result);
}

async function loadSessions(id, list) {
  clear(list);
  let sessions;
  try {
    sessions = await api('GET', `/api/devices/${id}/elevations`);
  } catch (e) {
    list.append(el('p', { class: 'error' }, e.message));
    return;
  }
  if (sessions.length === 0) {
    list.append(el('p', { class: 'empty' }, 'No elevations on this device yet.'));
    return;
  }
  for (const s of sessions) {
    const state = s.ended_at ? `${s.end_reason} ${when(s.ended_at)}` : `running until ${when(s.until)}`;
    list.append(el('div', { class: 'elev-session', 'data-session': s.session_id },
      el('p', {}, el('strong', {}, s.user), ` — granted ${when(s.granted_at)}, ${state}`,
        s.self_approved ? el('span', { class: 'badge' }, ` self-approved: ${s.note}`) : ''),
      s.processes.length === 0 ? el('p', { class: 'empty' }, 'Nothing ran elevated.')
        : table(['Seen', 'PID', 'Parent', 'Program', 'Command line', 'Exited'],
          s.processes.map((p) => el('tr', {},
            el('td', {}, when(p.seen_at)), el('td', {}, p.pid), el('td', {}, p.ppid),
            el('td', {}, el('code', {}, p.exe)), el('td', { class: 'mono' }, (p.args || []).join(' ')),
            el('td', {}, p.exited_at ? when(p.exited_at) : 'running'))))));
  }
}
