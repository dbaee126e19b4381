// pages/users.js: portal users (admin).
import { api } from '../api.js';
import { el, clear, table } from '../dom.js';

export async function usersPage(main) {
  const list = el('div');
  const created = el('div');
  const name = el('input', { id: 'user-name', required: true });
  const role = el('select', { id: 'user-role' }, ['technician', 'auditor', 'admin'].map((r) => el('option', { value: r }, r)));
  const form = el('form', { class: 'card inline' }, el('label', {}, 'Username', name), el('label', {}, 'Role', role),
    el('button', { type: 'submit' }, 'Add user'));
  const load = async () => {
    const us = await api('GET', '/api/users');
    clear(list);
    list.append(table(['User', 'Role', 'Created'], us.map((u) => el('tr', {},
      el('td', {}, u.username), el('td', {}, u.role), el('td', {}, new Date(u.created_at).toLocaleString())))));
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
  main.append(el('h1', {}, 'Users'), form, created, list);
  await load();
}
