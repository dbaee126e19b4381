// pages/audit.js: the audit log (admins and auditors): filters, paging,
// CSV/JSON Lines export, and the details of one remote-support session with
// Terminate for a live one.
import { api } from '../api.js';
import { el, clear, table } from '../dom.js';

const FILTERS = [['since', 'From', 'datetime-local'], ['until', 'To', 'datetime-local'], ['actor', 'Actor', 'text'],
  ['device', 'Device', 'text'], ['action', 'Action', 'text']];

export async function auditPage(main) {
  const list = el('div');
  const inputs = Object.fromEntries(FILTERS.map(([k, , type]) => [k, el('input', { id: `audit-${k}`, type })]));
  const form = el('form', { class: 'card inline audit-filters' },
    ...FILTERS.map(([k, label]) => el('label', {}, label, inputs[k])), el('button', { type: 'submit' }, 'Filter'));
  const prev = el('button', { id: 'audit-newer', type: 'button' }, 'Newer');
  const next = el('button', { id: 'audit-older', type: 'button' }, 'Older');
  const csv = el('a', { id: 'audit-export-csv', class: 'button' }, 'Export CSV');
  const jsonl = el('a', { id: 'audit-export-jsonl', class: 'button' }, 'Export JSON Lines');
  const pageSize = 100;
  let pages = []; // the "before" bound of each page shown so far

  const query = () => {
    const q = new URLSearchParams();
    for (const [k] of FILTERS) {
      const v = inputs[k].value.trim();
      if (!v) continue;
      q.set(k, k === 'since' || k === 'until' ? new Date(v).toISOString() : v);
    }
    return q;
  };
  const load = async (before) => {
    const q = query();
    csv.href = `/api/audit/export?${q}&format=csv`;
    jsonl.href = `/api/audit/export?${q}&format=jsonl`;
    q.set('limit', String(pageSize));
    if (before) q.set('before', String(before));
    const recs = await api('GET', `/api/audit?${q}`);
    clear(list);
    list.append(table(['#', 'Time', 'Actor', 'Action', 'Target', 'Source', 'Details'], recs.map((r) => el('tr', {},
      el('td', {}, r.seq), el('td', {}, new Date(r.time).toLocaleString()), el('td', {}, r.actor), el('td', {}, r.action),
      el('td', {}, r.action.startsWith('session.') ? el('a', { href: `#/audit/sessions/${r.target}` }, r.target) : el('code', {}, r.target)),
      el('td', {}, r.source_ip), el('td', {}, el('code', {}, JSON.stringify(r.details)))))));
    next.disabled = recs.length < pageSize;
    next.onclick = () => { pages.push(before); load(recs[recs.length - 1].seq); };
    prev.disabled = pages.length === 0;
  };
  prev.addEventListener('click', () => load(pages.pop()));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); pages = []; load(); });
  main.append(el('h1', {}, 'Audit log'), form, el('div', { class: 'pager' }, prev, next, csv, jsonl), list);
  await load();
}

// sessionDetailsPage is #/audit/sessions/ID: who, which device, when,
// consent, state, input summary, end reason, the session's audit events,
// and Terminate while it is live.
export async function sessionDetailsPage(main, ctx) {
  const id = ctx.args[0];
  const body = el('div');
  main.append(el('h1', {}, 'Remote support session'), body);
  let timer = null;
  const render = async () => {
    const s = await api('GET', `/api/sessions/${id}`);
    const events = await api('GET', `/api/audit?order=asc&limit=1000&target=${encodeURIComponent(id)}`);
    const rec = await api('GET', `/api/recordings/${id}`).catch(() => null);
    clear(body);
    const live = !['ended', 'declined'].includes(s.state);
    const term = el('button', { id: 'session-terminate', class: 'danger', type: 'button', hidden: !live }, 'Terminate this session');
    const msg = el('span', { id: 'session-terminate-msg', class: 'reason' });
    term.addEventListener('click', async () => {
      term.disabled = true;
      try { await api('POST', `/api/sessions/${id}/end`); await render(); } catch (e) { msg.textContent = e.message; term.disabled = false; }
    });
    const input = Object.entries(s.input || {}).map(([k, v]) => `${k}: ${v}`).join(', ') || 'none';
    body.append(el('dl', { class: 'details card' },
      el('dt', {}, 'Who'), el('dd', { id: 'detail-requester' }, s.requester),
      el('dt', {}, 'Device'), el('dd', {}, el('a', { href: `#/devices/${s.device_id}` }, s.hostname || s.device_id)),
      el('dt', {}, 'Start'), el('dd', {}, new Date(s.started_at).toLocaleString()),
      el('dt', {}, 'Consent'), el('dd', {}, s.consent || '—'),
      el('dt', {}, 'State'), el('dd', { id: 'detail-state' }, s.state),
      el('dt', {}, 'Expires'), el('dd', {}, s.expires_at ? new Date(s.expires_at).toLocaleString() : '—'),
      el('dt', {}, 'Input'), el('dd', {}, input),
      el('dt', {}, 'End reason'), el('dd', { id: 'detail-end-reason' }, s.end_reason || '—'),
      el('dt', {}, 'Recording'), el('dd', { id: 'detail-recording' }, rec
        ? (rec.state === 'deleted' ? 'deleted (retention)' : el('a', { href: `#/recordings/${id}` }, `Play recording (${rec.state})`))
        : el('span', { class: 'muted' }, 'no recording'))),
    el('p', {}, term, ' ', msg),
    el('h2', {}, 'Events'),
    table(['#', 'Time', 'Actor', 'Action', 'Details'], events.map((r) => el('tr', {}, el('td', {}, r.seq),
      el('td', {}, new Date(r.time).toLocaleString()), el('td', {}, r.actor), el('td', {}, r.action),
      el('td', {}, el('code', {}, JSON.stringify(r.details)))))));
    if (!live && timer) { clearInterval(timer); timer = null; }
  };
  await render();
  timer = setInterval(() => render().catch(() => {}), 2000);
  return () => { if (timer) clearInterval(timer); };
}
