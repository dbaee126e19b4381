// pages/audit.js: the audit log (admins and auditors), newest first.
import { api } from '../api.js';
import { el, clear, table } from '../dom.js';

export async function auditPage(main) {
  const list = el('div');
  const action = el('input', { id: 'audit-action', placeholder: 'action, e.g. login.failed' });
  const form = el('form', { class: 'card inline' }, el('label', {}, 'Action', action), el('button', { type: 'submit' }, 'Filter'));
  const load = async () => {
    const q = new URLSearchParams({ limit: '200' });
    if (action.value) q.set('action', action.value);
    const recs = await api('GET', `/api/audit?${q}`);
    clear(list);
    list.append(table(['#', 'Time', 'Actor', 'Action', 'Target', 'Source', 'Details'], recs.map((r) => el('tr', {},
      el('td', {}, r.seq), el('td', {}, new Date(r.time).toLocaleString()), el('td', {}, r.actor), el('td', {}, r.action),
      el('td', {}, el('code', {}, r.target)), el('td', {}, r.source_ip), el('td', {}, el('code', {}, JSON.stringify(r.details)))))));
  };
  form.addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  main.append(el('h1', {}, 'Audit log'), form, list);
  await load();
}
