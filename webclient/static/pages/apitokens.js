// pages/apitokens.js: the Account page's API tokens section: the user's
// own tokens (API tokens with scopes, and the CLI's "porthole login"
// tokens) with their last use, revocation, and creating one — shown once,
// stored hashed by the broker, never more than the user's own rights.
import { api } from '../api.js';
import { el, clear, table } from '../dom.js';

const when = (iso) => (iso ? new Date(iso).toLocaleString() : 'never');

function status(t) {
  if (t.revoked) return 'revoked';
  if (Date.parse(t.expires_at) <= Date.now()) return 'expired';
  return 'active';
}

export async function apiTokensPanel() {
  const panel = el('section', { class: 'panel', id: 'api-tokens' }, el('h2', {}, 'API tokens'),
    el('p', {}, 'For scripts and integrations: send a token as "Authorization: Bearer TOKEN". A token can do what its scopes name and ',
      'you may do at the time of each call, never more. It is shown once.'));
  const list = el('div', { id: 'api-token-list' });
  const shown = el('div', { id: 'api-token-shown' });
  const err = el('p', { class: 'error', id: 'api-token-error', role: 'alert' });
  const vocabulary = await api('GET', '/api/scopes');
  const note = el('input', { id: 'api-token-note', placeholder: 'e.g. nightly inventory export', maxlength: '200' });
  const hours = el('input', { id: 'api-token-hours', type: 'number', min: '1', value: '24' });
  const boxes = el('fieldset', { class: 'scopes', id: 'api-token-scopes' }, el('legend', {}, 'Scopes'),
    vocabulary.map((s) => el('label', { class: 'check', title: s.doc },
      el('input', { type: 'checkbox', name: 'scope', value: s.name }), el('code', {}, s.name), ` ${s.doc}`)));
  const form = el('form', { class: 'card', id: 'api-token-form' },
    el('div', { class: 'inline' }, el('label', {}, 'Note', note), el('label', {}, 'Valid for (hours)', hours)), boxes,
    el('button', { type: 'submit', id: 'api-token-create' }, 'Create API token'), err);

  const load = async () => {
    const ts = await api('GET', '/api/api-tokens');
    clear(list);
    if (ts.length === 0) { list.append(el('p', { class: 'empty' }, 'No tokens.')); return; }
    list.append(table(['Kind', 'Scopes', 'Note', 'Created', 'Expires', 'Last used', 'Status', ''], ts.map((t) => el('tr', { 'data-token': t.id },
      el('td', {}, t.kind === 'cli' ? 'CLI login' : 'API'),
      el('td', { class: 'scopes mono' }, t.kind === 'cli' ? 'all of your rights' : t.scopes.join(' ')),
      el('td', {}, t.note),
      el('td', {}, when(t.created_at)),
      el('td', {}, when(t.expires_at)),
      el('td', { class: 'last-used' }, t.last_used_at ? `${when(t.last_used_at)} from ${t.last_used_ip}` : 'never'),
      el('td', { class: 'token-status', 'data-status': status(t) }, status(t) + (t.current ? ' (this one)' : '')),
      el('td', {}, status(t) === 'active' ? el('button', { class: 'danger', 'data-revoke-token': t.id, onclick: async (ev) => {
        ev.target.disabled = true;
        try { await api('POST', `/api/api-tokens/${t.id}/revoke`); await load(); } catch (e) { err.textContent = e.message; ev.target.disabled = false; }
      } }, 'Revoke') : '')))));
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    const scopes = [...boxes.querySelectorAll('input[name=scope]:checked')].map((b) => b.value);
    try {
      const t = await api('POST', '/api/api-tokens', { scopes, expires_in_seconds: Math.round(Number(hours.value) * 3600), note: note.value });
      clear(shown);
      shown.append(el('div', { class: 'card secret' }, el('p', {}, `API token created (${t.scopes.join(' ')}; until ${when(t.expires_at)}). It is shown once:`),
        el('input', { readonly: true, value: t.token, id: 'api-token-value', class: 'mono' }),
        el('button', { type: 'button', onclick: () => navigator.clipboard.writeText(t.token) }, 'Copy')));
      note.value = '';
      for (const b of boxes.querySelectorAll('input[name=scope]')) b.checked = false;
      await load();
    } catch (e) { err.textContent = e.message; }
  });
  panel.append(form, shown, list);
  await load();
  return panel;
}
