// pages/users.js: portal users (admin).
import { api } from '../api.js';
import { el, clear, table } from '../dom.js';

export async function usersPage(main) {
  const list = el('div');
  const created = el('div');
  const name = el('input', { id: 'user-name', required: true });
  const role = el('select', { id: 'user-role' }, ['technician', 'approver', 'auditor', 'admin'].map((r) => el('option', { value: r }, r)));
  const form = el('form', { class: 'card inline' }, el('label', {}, 'Username', name), el('label', {}, 'Role', role),
    el('button', { type: 'submit' }, 'Add user'));
  const notice = el('p', { id: 'users-notice', role: 'status' });
  // mfaCell shows a user's two-factor state and, when on, the admin reset
  // (which also ends that user's portal sessions; audited by the broker).
  const mfaCell = (u) => {
    const td = el('td', { class: 'mfa', 'data-mfa': u.id }, '…');
    api('GET', `/api/users/${u.id}/mfa`).then((st) => {
      clear(td);
      if (!st.enrolled) { td.append('off'); return; }
      td.append('on ', el('button', { class: 'danger reset-mfa', 'data-reset-mfa': u.id, onclick: async (ev) => {
        if (!confirm(`Reset two-factor authentication for ${u.username}? Their sessions end and they must set it up again.`)) return;
        ev.target.disabled = true;
        try {
          const r = await api('POST', `/api/users/${u.id}/mfa/reset`);
          notice.textContent = `Two-factor authentication reset for ${u.username}; ${r.sessions_ended} session(s) ended.`;
          load();
        } catch (e) { notice.textContent = e.message; ev.target.disabled = false; }
      } }, 'Reset MFA'));
    }).catch((e) => { td.textContent = e.message; });
    return td;
  };
  const load = async () => {
    const us = await api('GET', '/api/users');
    clear(list);
    list.append(table(['User', 'Role', 'Created', 'Two-factor', 'Sign-in'], us.map((u) => el('tr', { 'data-user': u.id },
      el('td', {}, u.username), el('td', {}, u.role), el('td', {}, new Date(u.created_at).toLocaleString()), mfaCell(u),
      lockCell(u, notice, load)))));
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const u = await api('POST', '/api/users', { username: name.value, role: role.value });
    clear(created);
    created.append(el('div', { class: 'card secret' }, el('p', {}, `User ${u.username} created. Initial password (shown once):`),
      el('input', { readonly: true, value: u.password, class: 'mono' })));
    name.value = '';
    load();
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
