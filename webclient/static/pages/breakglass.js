// pages/breakglass.js: a device's Break Glass panel. It generates a
// temporary local administrator on the device, shows its username and
// password once (the broker keeps no copy of the password: a reload shows
// only the username), lists the device's accounts and revokes them.
import { api } from '../api.js';
import { el, clear, table } from '../dom.js';

const live = (g) => g.username && (g.status === 'active' || g.status === 'used');
const when = (iso) => (iso && !iso.startsWith('0001') ? new Date(iso).toLocaleString() : '—');

// copyField is a read-only input with a Copy button: the clipboard API
// where the page may use it, else the text is selected for Ctrl+C.
function copyField(id, label, value) {
  const input = el('input', { id, type: 'text', readonly: true, value, spellcheck: 'false', autocomplete: 'off' });
  const btn = el('button', { type: 'button', id: `${id}-copy`, onclick: async () => {
    try {
      await navigator.clipboard.writeText(value);
      btn.textContent = 'Copied';
    } catch {
      input.focus();
      input.select();
      btn.textContent = 'Press Ctrl+C';
    }
  } }, 'Copy');
  return el('label', { class: 'copy' }, label, ' ', input, ' ', btn);
}

// breakGlassPanel fills box and keeps its list current; it returns a stop
// function.
export function breakGlassPanel(box, deviceID, canManage) {
  const list = el('div', { id: 'bg-list' });
  const result = el('div', { id: 'bg-result', hidden: true });
  const err = el('p', { class: 'error', id: 'bg-error' });
  const section = el('section', { class: 'panel', id: 'break-glass' }, el('h2', {}, 'Break Glass'),
    el('p', {}, 'A temporary local administrator on this device that deletes itself at its expiry.'));
  if (canManage) {
    const minutes = el('input', { type: 'number', id: 'bg-minutes', min: '1', value: '60' });
    const until = el('input', { type: 'datetime-local', id: 'bg-until' });
    const useWithin = el('input', { type: 'number', id: 'bg-use-within', min: '1', placeholder: 'setting' });
    const btn = el('button', { id: 'bg-generate', onclick: async () => {
      btn.disabled = true;
      err.textContent = '';
      const body = until.value ? { expires_at: new Date(until.value).toISOString() }
        : { duration_seconds: Math.round(Number(minutes.value) * 60) };
      if (useWithin.value) body.use_within_minutes = Math.round(Number(useWithin.value));
      try {
        const g = await api('POST', `/api/devices/${deviceID}/breakglass`, body);
        clear(result);
        result.append(
          el('p', {}, 'Shown once: copy the password now. The broker keeps no copy of it.'),
          copyField('bg-username', 'Username', g.username),
          copyField('bg-password', 'Password', g.password),
          el('p', {}, `Expires ${when(g.expires_at)}`, g.use_by ? `; removed unused at ${when(g.use_by)}` : ''));
        result.hidden = false;
        await load();
      } catch (e) { err.textContent = e.message; }
      btn.disabled = false;
    } }, 'Generate account');
    section.append(el('div', { class: 'bg-form' },
      el('label', {}, 'Expires in ', minutes, ' minutes'), ' or ', el('label', {}, 'at ', until), ' ',
      el('label', {}, 'Must be used within ', useWithin, ' minutes'), ' ', btn), err, result);
  }
  section.append(el('h3', {}, 'Accounts'), list);
  box.append(section);

  const revoke = async (btn, g) => {
    if (!confirm(`Revoke ${g.username} now? It is logged off and deleted on the device.`)) return;
    btn.disabled = true;
    err.textContent = '';
    try { await api('POST', `/api/breakglass/${g.id}/revoke`); } catch (e) { err.textContent = e.message; }
    await load();
  };
  const render = (grants) => {
    clear(list);
    if (grants.length === 0) { list.append(el('p', { class: 'empty' }, 'None yet.')); return; }
    list.append(table(['Username', 'Status', 'Created by', 'Created', 'Expires', ''],
      grants.map((g) => el('tr', { 'data-grant': g.id },
        el('td', { class: 'bg-user' }, g.username || '—'),
        el('td', {}, el('span', { class: `badge bg-${g.status}`, title: g.detail || '' }, g.status)),
        el('td', {}, g.requester),
        el('td', {}, when(g.created_at)),
        el('td', {}, when(g.expires_at)),
        el('td', {}, canManage && live(g)
          ? el('button', { class: 'danger bg-revoke', 'data-revoke': g.id, onclick: (ev) => revoke(ev.target, g) }, 'Revoke now') : '')))));
  };
  const load = async () => {
    try { render(await api('GET', `/api/devices/${deviceID}/breakglass`)); } catch (e) { err.textContent = e.message; }
  };
  load();
  // Statuses move when the agent reports (first login, expiry, removal).
  const tick = setInterval(load, 5000);
  return () => clearInterval(tick);
}
