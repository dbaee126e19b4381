// pages/tokens.js: enrollment tokens (admin).
import { api } from '../api.js';
import { el, clear, table } from '../dom.js';

export async function tokensPage(main) {
  const list = el('div');
  const created = el('div', { id: 'token-created' });
  const uses = el('input', { id: 'token-uses', type: 'number', min: '1', value: '1' });
  const hours = el('input', { id: 'token-hours', type: 'number', min: '1', value: '24' });
  const note = el('input', { id: 'token-note', placeholder: 'e.g. finance laptops' });
  const form = el('form', { class: 'card inline' },
    el('label', {}, 'Uses', uses), el('label', {}, 'Valid for (hours)', hours), el('label', {}, 'Note', note),
    el('button', { type: 'submit', id: 'token-create' }, 'Create token'));
  const load = async () => {
    const ts = await api('GET', '/api/enroll-tokens');
    clear(list);
    list.append(table(['Created', 'By', 'Note', 'Uses', 'Expires', ''], ts.map((t) => el('tr', {},
      el('td', {}, new Date(t.created_at).toLocaleString()), el('td', {}, t.created_by), el('td', {}, t.note),
      el('td', {}, `${t.uses} / ${t.max_uses}`),
      el('td', {}, t.revoked ? 'revoked' : new Date(t.expires_at).toLocaleString()),
      el('td', {}, t.revoked ? '' : el('button', { onclick: async () => { await api('POST', `/api/enroll-tokens/${t.id}/revoke`); load(); } }, 'Revoke'))))));
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const t = await api('POST', '/api/enroll-tokens', {
      max_uses: Number(uses.value), expires_in_seconds: Number(hours.value) * 3600, note: note.value,
    });
    clear(created);
    const cmd = `porthole-agent enroll --broker ${location.origin} --token ${t.token}`;
    created.append(el('div', { class: 'card secret' },
      el('p', {}, 'Token created. It is shown once; run this on the endpoint:'),
      el('input', { readonly: true, value: cmd, id: 'token-command', class: 'mono' }),
      el('button', { onclick: () => navigator.clipboard.writeText(cmd) }, 'Copy')));
    load();
  });
  main.append(el('h1', {}, 'Enrollment tokens'), form, created, list);
  await load();
}
