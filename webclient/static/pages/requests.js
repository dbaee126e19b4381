// pages/requests.js: the approvals queue. Pending remote-support and
// elevation (and, later, access) requests update live over the events
// websocket; Approve on a support request opens the viewer for the
// approver while the end user is asked to allow the connection; Approve on
// an elevation request takes a duration and delivers a code to the agent.
import { api, events } from '../api.js';
import { el, clear, table } from '../dom.js';
import { marker, accessActions } from './access.js';


// age formats seconds as a short duration.
export function age(s) {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

// accessRow is an access request in the queue (kind 'access'): ⚡ for
// emergency, its entitlement and group, and the steps its policy allows
// the caller (v is its /api/access/requests view; absent when the caller
// may not see it).
function accessRow(r, v, age, done, notice) {
  const p = r.payload || {};
  return el('tr', { 'data-request': r.id, class: 'kind-access' },
    el('td', {}, 'access ', marker({ id: r.id, emergency: p.emergency })),
    el('td', {}, el('a', { href: `#/access/${r.id}` }, v ? v.group_name : r.device_id)),
    el('td', {}, r.user),
    el('td', {}, p.entitlement),
    el('td', { class: 'reason' }, r.reason),
    el('td', { class: 'age', 'data-age': r.id }, age),
    el('td', {}, r.status, r.decided_by ? ` by ${r.decided_by}` : ''),
    el('td', { class: 'actions' }, v ? accessActions(v, done, notice) : ''));
}

function contact(r) {
  return el('div', { class: 'contact' }, el('strong', {}, r.contact_name),
    r.contact_email ? el('div', {}, el('a', { href: `mailto:${r.contact_email}` }, r.contact_email)) : null,
    r.contact_phone ? el('div', {}, r.contact_phone) : null);
}

// minutesInput is an elevation request's duration, bounded by the device's
// elevation.max_minutes (the broker checks it again).
function minutesInput(r) {
  const max = r.max_minutes || 60;
  return el('input', { type: 'number', 'data-minutes': r.id, min: '5', max: String(max), step: '5',
    value: String(Math.min(30, max)), title: `Minutes of administrator rights (at most ${max})`, class: 'minutes' });
}

// decisionBody is what an approve or deny sends.
function decisionBody(r, what, comment, minutes) {
  const body = comment ? { comment } : {};
  if (what === 'approve' && r.kind === 'elevation' && minutes) body.minutes = Number(minutes.value);
  return body;
}

export async function requestsPage(main, ctx) {
  const status = el('select', { id: 'requests-status' },
    [['pending', 'Pending'], ['', 'All']].map(([v, t]) => el('option', { value: v }, t)));
  const notice = el('p', { id: 'requests-notice', role: 'status', class: 'error' });
  const body = el('div', { id: 'requests' });
  main.append(el('h1', {}, 'Requests'), el('label', {}, 'Show ', status), notice, body);
  let list = [];
  let access = new Map(); // access request views by id (see accessRow)
  // Approving support makes the approver the viewer: it needs the right to
  // connect to that device, by role or by an access grant (read with each
  // load, so a grant decided meanwhile counts; the broker checks again).
  let connectable = new Set();
  let loadedAt = Date.now();
  const ageOf = (r) => r.age_seconds + Math.floor((Date.now() - loadedAt) / 1000);
  // Live updates rebuild the table: what the user is typing (a comment, the
  // minutes) and the focus survive it.
  const typed = 'input[data-comment], input[data-minutes]';
  const keyOf = (i) => (i.dataset.comment ? `c:${i.dataset.comment}` : `m:${i.dataset.minutes}`);
  const render = () => {
    const kept = new Map([...body.querySelectorAll(typed)].map((i) => [keyOf(i), i.value]));
    const active = document.activeElement;
    const focused = active && body.contains(active) && active.matches(typed) ? keyOf(active) : null;
    build();
    for (const i of body.querySelectorAll(typed)) {
      if (kept.has(keyOf(i))) i.value = kept.get(keyOf(i));
      if (keyOf(i) === focused) i.focus();
    }
  };
  const build = () => {
    clear(body);
    if (list.length === 0) {
      body.append(el('p', { class: 'empty', id: 'requests-empty' }, 'No requests.'));
      return;
    }
    body.append(table(['Kind', 'Device', 'User', 'Contact', 'Reason', 'Age', 'Status', ''], list.map((r) => {
      if (r.kind === 'access') return accessRow(r, access.get(r.id), age(ageOf(r)), load, notice);
      const comment = el('input', { 'data-comment': r.id, placeholder: 'Comment (optional)', maxlength: '500' });
      const pending = r.status === 'pending';
      const minutes = r.kind === 'elevation' && pending ? minutesInput(r) : null;
      const needsOnline = r.kind === 'support' || r.kind === 'elevation';
      const approve = el('button', { 'data-approve': r.id, disabled: !pending || (needsOnline && !r.online) || (r.kind === 'support' && !connectable.has(r.device_id)),
        title: needsOnline && !r.online ? 'The device is offline' : '', onclick: () => decide(r, 'approve', comment.value, minutes) }, 'Approve');
      const deny = el('button', { class: 'danger', 'data-deny': r.id, disabled: !pending, onclick: () => decide(r, 'deny', comment.value) }, 'Deny');
      return el('tr', { 'data-request': r.id, class: `kind-${r.kind}` },
        el('td', {}, r.kind),
        el('td', {}, el('a', { href: `#/devices/${r.device_id}` }, r.hostname || r.device_id)),
        el('td', {}, r.user),
        el('td', {}, r.kind === 'elevation' ? 'administrator rights' : contact(r)),
        el('td', { class: 'reason' }, r.reason),
        el('td', { class: 'age', 'data-age': r.id }, age(ageOf(r))),
        el('td', {}, r.status, r.decided_by ? ` by ${r.decided_by}` : '', r.comment ? ` — ${r.comment}` : ''),
        el('td', { class: 'actions' }, pending ? [minutes && el('label', { class: 'minutes' }, minutes, 'min'), comment, approve, deny].filter(Boolean) : ''));
    })));
  };
  const load = async () => {
    list = await api('GET', `/api/requests?status=${encodeURIComponent(status.value)}`);
    if (list.some((r) => r.kind === 'access')) access = new Map((await api('GET', '/api/access/requests')).map((v) => [v.id, v]));
    if (list.some((r) => r.kind === 'support')) {
      connectable = new Set((await api('GET', '/api/devices')).filter((d) => (d.rights || []).includes('connect')).map((d) => d.id));
    }
    loadedAt = Date.now();
    render();
  };
  const decide = async (r, what, comment, minutes) => {
    notice.textContent = '';
    for (const b of body.querySelectorAll(`[data-approve="${r.id}"], [data-deny="${r.id}"]`)) b.disabled = true;
    try {
      const res = await api('POST', `/api/requests/${r.id}/${what}`, decisionBody(r, what, comment, minutes));
      if (what === 'approve' && res.session_id) {
        location.hash = `#/sessions/${res.session_id}`;
        return;
      }
      await load();
    } catch (e) {
      notice.textContent = e.message;
      await load();
    }
  };
  status.addEventListener('change', load);
  await load();
  const stop = events((ev) => {
    if (ev.type === 'request' || (ev.type === 'device' && list.some((r) => r.device_id === ev.id && r.online !== ev.data.online))) load();
  }, load, load);
  const tick = setInterval(() => {
    for (const r of list) {
      const cell = body.querySelector(`td[data-age="${r.id}"]`);
      if (cell) cell.textContent = age(ageOf(r));
    }
  }, 5000);
  return () => { stop(); clearInterval(tick); };
}
