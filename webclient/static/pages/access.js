// pages/access.js: entitlement requests. Anyone may request an entitlement
// on a device group for a while with a justification (an Emergency toggle
// appears only when the entitlement has an emergency path); approvers
// approve or deny, requesters escalate an open request to the emergency
// policy; admins define entitlements and review emergency grants. Emergency
// requests carry ⚡ in every list and a badge on their page.
import { api, events } from '../api.js';
import { el, clear, table } from '../dom.js';

const names = ['remote_support', 'unattended_access', 'break_glass', 'elevation_codes'];

// marker is the emergency sign every list shows.
export function marker(v) {
  return v.emergency ? el('span', { class: 'emergency-marker', title: 'Emergency request', 'data-emergency': v.id }, '⚡') : '';
}

function dur(s) {
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

function until(v) {
  return v.state === 'approved' ? new Date(v.expires_at).toLocaleString() : '-';
}

function stateText(v) {
  return v.state + (v.needs_review ? ' (needs review)' : '') + (v.decided_by ? ` by ${v.decided_by}` : '');
}

// accessActions returns the buttons for what the caller may do to v; each
// step POSTs, then done() reloads (errors go to notice).
export function accessActions(v, done, notice) {
  const step = async (what, ev) => {
    ev.target.disabled = true;
    notice.textContent = '';
    try {
      await api('POST', `/api/access/requests/${v.id}/${what}`, {});
    } catch (e) {
      notice.textContent = e.message;
    }
    await done();
  };
  const b = (what, text, cls = '') => el('button', { class: cls, 'data-step': what, 'data-id': v.id, onclick: (ev) => step(what, ev) }, text);
  return [
    v.can_approve ? b('approve', 'Approve') : null,
    v.can_approve ? b('deny', 'Deny', 'danger') : null,
    v.can_escalate ? b('escalate', '⚡ Escalate to emergency', 'danger') : null,
    v.can_cancel ? b('cancel', 'Cancel') : null,
    v.can_revoke ? b('revoke', 'Revoke', 'danger') : null,
    v.can_review ? b('review', 'Mark reviewed') : null,
  ].filter(Boolean);
}

function requestsTable(list, done, notice) {
  return table(['', 'Entitlement', 'Group', 'Requester', 'For', 'Reason', 'State', 'Approvals', 'Until', ''], list.map((v) =>
    el('tr', { 'data-access': v.id },
      el('td', {}, marker(v)),
      el('td', {}, el('a', { href: `#/access/${v.id}` }, v.entitlement)),
      el('td', {}, v.group_name || v.group_id),
      el('td', {}, v.requester),
      el('td', {}, dur(v.duration_seconds)),
      el('td', { class: 'reason' }, v.justification),
      el('td', { 'data-state': v.id }, stateText(v)),
      el('td', {}, `${v.approvals.length}/${v.approvals_needed}`),
      el('td', {}, until(v)),
      el('td', { class: 'actions' }, accessActions(v, done, notice)))));
}

function requestForm(ents, notice) {
  if (ents.length === 0) return el('p', { class: 'empty' }, 'No entitlements are defined yet.');
  const ent = el('select', { id: 'access-entitlement' },
    ents.map((e) => el('option', { value: e.id }, `${e.name} on ${e.group_name}${e.emergency ? ' (⚡ emergency available)' : ''}`)));
  const minutes = el('input', { id: 'access-minutes', type: 'number', min: '1', value: '60' });
  const reason = el('input', { id: 'access-reason', maxlength: '1000', placeholder: 'Justification (ticket, incident…)' });
  const emergency = el('input', { id: 'access-emergency', type: 'checkbox' });
  const emergencyRow = el('label', { id: 'access-emergency-row' }, emergency, ' ⚡ Emergency (uses the emergency policy)');
  const sync = () => {
    const e = ents.find((x) => x.id === ent.value);
    emergencyRow.hidden = !(e && e.emergency);
    if (emergencyRow.hidden) emergency.checked = false;
  };
  ent.addEventListener('change', sync);
  sync();
  const submit = el('button', { id: 'access-submit', onclick: async () => {
    notice.textContent = '';
    try {
      const v = await api('POST', '/api/access/requests', { entitlement_id: ent.value, duration_seconds: Number(minutes.value) * 60,
        justification: reason.value, emergency: emergency.checked });
      location.hash = `#/access/${v.id}`;
    } catch (e) {
      notice.textContent = e.message;
    }
  } }, 'Request');
  return el('div', { class: 'form' }, el('label', {}, 'Entitlement ', ent), el('label', {}, ' for (minutes) ', minutes),
    el('label', {}, ' ', reason), emergencyRow, submit);
}

// entitlementsAdmin lists entitlements with a form to define or change one.
function entitlementsAdmin(ents, groups, done, notice) {
  const name = el('select', { id: 'ent-name' }, names.map((n) => el('option', { value: n }, n)));
  const group = el('select', { id: 'ent-group' }, groups.map((g) => el('option', { value: g.id }, g.name)));
  const approvers = el('input', { id: 'ent-approvers', value: 'role:approver', placeholder: 'role:approver,user:amy' });
  const approvals = el('input', { id: 'ent-approvals', type: 'number', min: '1', max: '10', value: '1' });
  const max = el('input', { id: 'ent-max', type: 'number', min: '1', value: '240' });
  const just = el('input', { id: 'ent-justification', type: 'checkbox', checked: true });
  const self = el('input', { id: 'ent-self', type: 'checkbox' });
  const em = el('input', { id: 'ent-emergency', type: 'checkbox' });
  const emApprovers = el('input', { id: 'ent-em-approvers', placeholder: 'user:oncall (empty with auto-approve)' });
  const emAuto = el('input', { id: 'ent-em-auto', type: 'checkbox' });
  const emMax = el('input', { id: 'ent-em-max', type: 'number', min: '1', value: '60' });
  const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
  const save = el('button', { id: 'ent-save', onclick: async () => {
    notice.textContent = '';
    const body = { name: name.value, group_id: group.value, request: { approvers: list(approvers.value), approvals: Number(approvals.value),
      max_duration_seconds: Number(max.value) * 60, justification_required: just.checked, allow_self_approval: self.checked } };
    if (em.checked) {
      body.emergency = { approvers: list(emApprovers.value), approvals: emAuto.checked ? 0 : 1, auto_approve: emAuto.checked,
        max_duration_seconds: Number(emMax.value) * 60, justification_required: true };
    }
    try {
      await api('PUT', '/api/access/entitlements', body);
    } catch (e) {
      notice.textContent = e.message;
    }
    await done();
  } }, 'Save entitlement');
  const rows = ents.map((e) => el('tr', { 'data-entitlement': e.id },
    el('td', {}, e.name), el('td', {}, e.group_name),
    el('td', {}, `${e.request.approvals} of ${e.request.approvers.join(', ')}`),
    el('td', {}, e.emergency ? (e.emergency.auto_approve ? '⚡ auto-approve, reviewed after' : `⚡ ${e.emergency.approvals} of ${e.emergency.approvers.join(', ')}`) : '-'),
    el('td', {}, el('button', { class: 'danger', onclick: async () => {
      try { await api('DELETE', `/api/access/entitlements/${e.id}`); } catch (err) { notice.textContent = err.message; }
      await done();
    } }, 'Delete'))));
  return el('div', {},
    ents.length ? table(['Entitlement', 'Group', 'Approvers', 'Emergency', ''], rows) : null,
    groups.length === 0 ? el('p', { class: 'empty' }, 'Create a device group on the Settings page first.') :
      el('div', { class: 'form' }, name, ' on ', group, el('label', {}, ' approvers ', approvers), el('label', {}, ' needed ', approvals),
        el('label', {}, ' max minutes ', max), el('label', {}, just, ' justification required'), el('label', {}, self, ' self-approval'),
        el('label', {}, em, ' ⚡ emergency access: '), emApprovers, el('label', {}, emAuto, ' auto-approve'), el('label', {}, ' max minutes ', emMax),
        save));
}

export async function accessPage(main, ctx) {
  const admin = ctx.me.role === 'admin';
  const notice = el('p', { id: 'access-notice', role: 'status', class: 'error' });
  const body = el('div', { id: 'access' });
  main.append(el('h1', {}, 'Access'), notice, body);
  const load = async () => {
    const [ents, list, reviews, groups] = await Promise.all([api('GET', '/api/access/entitlements'), api('GET', '/api/access/requests'),
      admin ? api('GET', '/api/access/reviews') : [], admin ? api('GET', '/api/groups') : []]);
    clear(body);
    body.append(el('h2', {}, 'Request access'), requestForm(ents, notice),
      el('h2', {}, 'Requests'), list.length ? requestsTable(list, load, notice) : el('p', { class: 'empty', id: 'access-empty' }, 'No requests.'));
    if (admin) {
      body.append(el('h2', {}, 'Needs review'), el('div', { id: 'access-reviews' },
        reviews.length ? requestsTable(reviews, load, notice) : el('p', { class: 'empty' }, 'No emergency grants wait for review.')),
      el('h2', {}, 'Entitlements'), entitlementsAdmin(ents, groups, load, notice));
    }
  };
  await load();
  return events((ev) => { if (ev.type === 'request' && ev.data.kind === 'access') load(); }, load, load);
}

export async function accessRequestPage(main, ctx) {
  const [id] = ctx.args;
  const notice = el('p', { id: 'access-notice', role: 'status', class: 'error' });
  const body = el('div', { id: 'access-request' });
  main.append(el('p', {}, el('a', { href: '#/access' }, '← Access')), notice, body);
  const load = async () => {
    const v = await api('GET', `/api/access/requests/${id}`);
    clear(body);
    body.append(
      el('h1', {}, `${v.entitlement} on ${v.group_name || v.group_id} `,
        v.emergency ? el('span', { class: 'badge emergency', id: 'access-emergency-badge' }, '⚡ Emergency') : null),
      el('dl', {},
        el('dt', {}, 'Requester'), el('dd', {}, v.requester),
        el('dt', {}, 'Justification'), el('dd', {}, v.justification || '-'),
        el('dt', {}, 'For'), el('dd', {}, dur(v.duration_seconds)),
        el('dt', {}, 'State'), el('dd', { id: 'access-state' }, stateText(v)),
        el('dt', {}, 'Approvals'), el('dd', { id: 'access-approvals' }, `${v.approvals.length}/${v.approvals_needed}`,
          v.approvals.length ? ` (${v.approvals.map((a) => a.by).join(', ')})` : ''),
        el('dt', {}, 'Granted until'), el('dd', {}, until(v)),
        v.comment ? [el('dt', {}, 'Comment'), el('dd', {}, v.comment)] : null),
      el('div', { class: 'actions', id: 'access-actions' }, accessActions(v, load, notice)));
  };
  await load();
  return events((ev) => { if (ev.type === 'request' && ev.id === id) load(); }, load, load);
}
