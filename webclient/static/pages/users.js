// pages/users.js: portal users (admin): add, disable/enable, change role
// (a technician may be bound to device groups), reset password, reset MFA,
// delete. Every change takes effect at once in the broker: the user's
// portal sessions, websockets, tokens and remote sessions end, and the
// page says what ended.
import { api } from '../api.js';
import { el, clear, table } from '../dom.js';

const roles = ['technician', 'approver', 'auditor', 'admin'];

// cascadeText says what a change ended (the broker's "cascade").
export function cascadeText(c) {
  if (!c) return '';
  const parts = [];
  if (c.portal_sessions_ended) parts.push(`${c.portal_sessions_ended} portal session(s) ended`);
  if (c.websockets_closed?.length) parts.push(`${c.websockets_closed.length} websocket(s) closed`);
  if (c.tokens_revoked?.length) parts.push(`${c.tokens_revoked.length} token(s) revoked`);
  if (c.remote_sessions_terminated?.length) parts.push(`${c.remote_sessions_terminated.length} remote session(s) terminated (${c.remote_sessions_terminated.join(', ')})`);
  return parts.length ? ` ${parts.join(', ')}.` : '';
}

// groupPicker is a multiple select of device groups, usable for technicians only.
function groupPicker(groups, chosen, attrs) {
  return el('select', { multiple: true, size: String(Math.min(4, Math.max(2, groups.length))), title: 'Technician only on these device groups (none selected: every device)', ...attrs },
    groups.map((g) => el('option', { value: g.id, selected: (chosen || []).includes(g.id) }, g.name)));
}

const picked = (sel) => [...sel.selectedOptions].map((o) => o.value);

export async function usersPage(main) {
  const list = el('div');
  const created = el('div', { id: 'user-created' });
  const notice = el('p', { id: 'users-notice', role: 'status' });
  let groups = [];
  const groupName = (id) => (groups.find((g) => g.id === id) || {}).name || id;
  const name = el('input', { id: 'user-name', required: true });
  const role = el('select', { id: 'user-role' }, roles.map((r) => el('option', { value: r }, r)));
  const groupsBox = el('span');
  const form = el('form', { class: 'card inline' }, el('label', {}, 'Username', name), el('label', {}, 'Role', role),
    el('label', {}, 'Device groups (technicians)', groupsBox), el('button', { type: 'submit', id: 'user-add' }, 'Add user'));
  const newGroups = () => groupsBox.querySelector('select');

  // secret shows a generated password once.
  const secret = (what, pw) => {
    clear(created);
    created.append(el('div', { class: 'card secret' }, el('p', {}, `${what} (shown once):`),
      el('input', { readonly: true, value: pw, class: 'mono', id: 'user-password' })));
  };
  // change runs one lifecycle call and reports what it ended.
  const change = async (btn, u, method, path, body, said) => {
    btn.disabled = true;
    try {
      const r = await api(method, path, body);
      notice.textContent = `${said(u)}.${cascadeText(r.cascade)}`;
      if (r.password) secret(`New password for ${u.username}`, r.password);
      await load();
    } catch (e) {
      notice.textContent = e.message;
      btn.disabled = false;
    }
  };
  const confirmThen = (msg, f) => async (ev) => { if (confirm(msg)) await f(ev.target); };

  // mfaCell shows a user's two-factor state and, when on, the admin reset.
  const mfaCell = (u) => {
    const td = el('td', { class: 'mfa', 'data-mfa': u.id }, '…');
    api('GET', `/api/users/${u.id}/mfa`).then((st) => {
      clear(td);
      if (!st.enrolled) { td.append('off'); return; }
      td.append('on ', el('button', { class: 'danger reset-mfa', 'data-reset-mfa': u.id,
        onclick: confirmThen(`Reset two-factor authentication for ${u.username}? Their sessions, tokens and remote sessions end and they must set it up again.`,
          (b) => change(b, u, 'POST', `/api/users/${u.id}/mfa/reset`, undefined, (x) => `Two-factor authentication reset for ${x.username}`)) },
      'Reset MFA'));
    }).catch((e) => { td.textContent = e.message; });
    return td;
  };

  const roleCell = (u) => {
    const sel = el('select', { class: 'role-select', 'data-role-select': u.id }, roles.map((r) => el('option', { value: r, selected: r === u.role }, r)));
    const gs = groupPicker(groups, u.groups, { class: 'groups-select', 'data-groups-select': u.id });
    const sync = () => { gs.disabled = sel.value !== 'technician'; };
    sel.addEventListener('change', sync);
    sync();
    const btn = el('button', { class: 'user-role', 'data-user-role': u.id, onclick: (ev) => {
      const body = { role: sel.value };
      if (sel.value === 'technician' && picked(gs).length) body.groups = picked(gs);
      change(ev.target, u, 'PUT', `/api/users/${u.id}/role`, body, (x) => `${x.username} is now ${sel.value}${body.groups ? ' on ' + body.groups.map(groupName).join(', ') : ''}`);
    } }, 'Change role');
    return el('td', { class: 'role-edit' }, sel, ' ', gs, ' ', btn);
  };

  const actions = (u) => el('td', { class: 'actions' },
    u.disabled
      ? el('button', { class: 'user-enable', 'data-user-enable': u.id,
        onclick: (ev) => change(ev.target, u, 'POST', `/api/users/${u.id}/enable`, undefined, (x) => `${x.username} enabled`) }, 'Enable')
      : el('button', { class: 'danger user-disable', 'data-user-disable': u.id,
        onclick: confirmThen(`Disable ${u.username}? Their portal sessions, websockets, tokens and remote sessions end at once.`,
          (b) => change(b, u, 'POST', `/api/users/${u.id}/disable`, undefined, (x) => `${x.username} disabled`)) }, 'Disable'),
    ' ',
    el('button', { class: 'secondary user-reset-password', 'data-user-reset-password': u.id,
      onclick: confirmThen(`Reset ${u.username}'s password? Everything they are logged in with ends.`,
        (b) => change(b, u, 'POST', `/api/users/${u.id}/password/reset`, undefined, (x) => `Password reset for ${x.username}`)) }, 'Reset password'),
    ' ',
    el('button', { class: 'danger user-delete', 'data-user-delete': u.id,
      onclick: confirmThen(`Delete ${u.username}? This cannot be undone; audit records keep their name.`,
        (b) => change(b, u, 'DELETE', `/api/users/${u.id}`, undefined, (x) => `${x.username} deleted`)) }, 'Delete'));

  const load = async () => {
    groups = await api('GET', '/api/groups');
    clear(groupsBox);
    groupsBox.append(groupPicker(groups, [], { id: 'user-groups' }));
    const us = await api('GET', '/api/users');
    clear(list);
    list.append(table(['User', 'Role', 'On', 'Status', 'Created', 'Two-factor', 'Sign-in', ''], us.map((u) => el('tr', { 'data-user': u.id, class: u.disabled ? 'is-disabled' : '' },
      el('td', { class: 'username' }, u.username),
      roleCell(u),
      el('td', { class: 'on' }, u.groups ? (u.groups.map(groupName).join(', ') || 'no group') : 'every device'),
      el('td', { class: 'status', 'data-status': u.disabled ? 'disabled' : 'enabled' },
        u.disabled ? el('span', { class: 'badge revoked' }, 'disabled') : el('span', { class: 'badge online' }, 'enabled')),
      el('td', {}, new Date(u.created_at).toLocaleString()), mfaCell(u), lockCell(u, notice, load), actions(u)))));
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { username: name.value, role: role.value };
    if (role.value === 'technician' && picked(newGroups()).length) body.groups = picked(newGroups());
    try {
      const u = await api('POST', '/api/users', body);
      secret(`User ${u.username} created. Initial password`, u.password);
      notice.textContent = '';
      name.value = '';
      await load();
    } catch (e) { notice.textContent = e.message; }
  });
  main.append(el('h1', {}, 'Users'), form, created, notice, list);
  await load();
}

// lockCell shows whether failed sign-ins have locked an account out and,
// when they have (or failures are counting), the admin's Unlock, which
// forgets them (audited by the broker as user.unlocked).
function lockCell(u, notice, reload) {
  const td = el('td', { class: 'lock', 'data-lock': u.id }, '…');
  api('GET', `/api/users/${u.id}/lock`).then((st) => {
    clear(td);
    if (!st.locked && st.failures === 0) { td.append('ok'); return; }
    td.append(st.locked ? `locked (${Math.ceil(st.retry_after / 60)} min) ` : `${st.failures} failed `,
      el('button', { class: 'unlock', 'data-unlock': u.id, onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          await api('POST', `/api/users/${u.id}/unlock`);
          notice.textContent = `${u.username} unlocked: failed sign-ins forgotten.`;
          reload();
        } catch (e) { notice.textContent = e.message; ev.target.disabled = false; }
      } }, 'Unlock'));
  }).catch((e) => { td.textContent = e.message; });
  return td;
}
