// pages/settings.js: global and per-group settings, rendered from the
// broker's key registry (GET /api/settings/keys: label, type, default,
// bounds), so new keys appear without changes here; and device groups.
import { api } from '../api.js';
import { el, clear, table } from '../dom.js';

// sourceText says where an effective value comes from.
export function sourceText(source, groups) {
  if (source === 'default') return 'default';
  if (source === 'global') return 'global';
  const [kind, id] = source.split(':');
  if (kind === 'group') {
    const g = groups.find((x) => x.id === id);
    return `group ${g ? g.name : id}`;
  }
  return kind === 'device' ? 'this device' : source;
}

// check validates a value against a key's description before sending;
// the broker checks again and its message is shown the same way.
export function check(key, value) {
  if (key.type === 'int') {
    const n = Number(value);
    if (value === '' || !Number.isInteger(n) || n < key.min || n > key.max) return `want a whole number ${key.min}..${key.max}`;
  }
  if (key.type === 'enum' && !key.options.includes(value)) return `want one of ${key.options.join(', ')}`;
  return '';
}

// input builds the editor for a key.
export function input(key, value) {
  const id = `setting-${key.key}`;
  if (key.type === 'bool') {
    return el('select', { id }, ['true', 'false'].map((v) => el('option', { value: v, selected: v === value }, v === 'true' ? 'On' : 'Off')));
  }
  if (key.type === 'enum') return el('select', { id }, key.options.map((v) => el('option', { value: v, selected: v === value }, v)));
  if (key.type === 'text') return el('input', { id, type: 'text', value });
  return el('input', { id, type: 'number', min: String(key.min), max: String(key.max), step: '1', value });
}

export async function settingsPage(main) {
  const keys = await api('GET', '/api/settings/keys');
  let groups = await api('GET', '/api/groups');
  const scope = el('select', { id: 'settings-scope' });
  const body = el('div', { id: 'settings' });
  const groupName = el('input', { id: 'group-name', placeholder: 'e.g. Servers', maxlength: '64' });
  const groupErr = el('p', { class: 'error', id: 'group-error' });
  const groupForm = el('form', { class: 'card inline', id: 'group-form' }, el('label', {}, 'New device group ', groupName),
    el('button', { type: 'submit', id: 'group-create' }, 'Create group'), groupErr);
  const fillScopes = (selected) => {
    clear(scope);
    scope.append(el('option', { value: 'global' }, 'Global (every device)'),
      ...groups.map((g) => el('option', { value: `group:${g.id}` }, `Group: ${g.name} (${g.devices} device${g.devices === 1 ? '' : 's'})`)));
    scope.value = selected;
    actions.show();
  };
  // render shows the values of scope sc; the table carries its scope, so
  // nothing saved from it can land in another scope.
  const render = (values, sc) => {
    clear(body);
    // Global-only keys have no group value: the broker refuses one.
    const shown = sc === 'global' ? keys : keys.filter((k) => !k.global_only);
    const t = table(['Setting', 'Value', 'From', ''], shown.map((k) => {
      const v = values.find((x) => x.key === k.key) || { value: k.default, source: 'default' };
      const own = v.source === sc;
      const editor = input(k, v.value);
      const err = el('span', { class: 'error', 'data-error': k.key });
      const save = el('button', { type: 'button', 'data-save': k.key, onclick: async () => {
        err.textContent = check(k, editor.value);
        if (err.textContent) return;
        save.disabled = true;
        try {
          await api('PUT', `/api/settings/${encodeURIComponent(k.key)}`, { scope: sc, value: editor.value });
          await load();
        } catch (e) { err.textContent = e.message; save.disabled = false; }
      } }, 'Save');
      const clearBtn = sc !== 'global' && own ? el('button', { type: 'button', 'data-clear': k.key, onclick: async () => {
        try {
          await api('DELETE', `/api/settings/${encodeURIComponent(k.key)}?scope=${encodeURIComponent(sc)}`);
          await load();
        } catch (e) { err.textContent = e.message; }
      } }, 'Use inherited') : null;
      return el('tr', { 'data-setting': k.key },
        el('td', {}, el('strong', {}, k.label), el('div', { class: 'muted' }, k.doc)),
        el('td', {}, editor),
        el('td', { class: 'source', 'data-source': k.key }, own ? 'set here' : `inherited (${sourceText(v.source, groups)})`),
        el('td', {}, save, clearBtn, err));
    }));
    t.id = 'settings-table';
    t.dataset.scope = sc;
    body.append(t);
  };
  const load = async () => {
    const sc = scope.value;
    clear(body);
    body.append(el('p', { class: 'muted' }, 'Loading…'));
    const values = await api('GET', `/api/settings?scope=${encodeURIComponent(sc)}`);
    if (scope.value === sc) render(values, sc);
  };
  groupForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    groupErr.textContent = '';
    try {
      const g = await api('POST', '/api/groups', { name: groupName.value });
      groups = await api('GET', '/api/groups');
      groupName.value = '';
      fillScopes(`group:${g.id}`);
      await load();
    } catch (e) { groupErr.textContent = e.message; }
  });
  const actions = groupActions(() => groups.find((g) => scope.value === `group:${g.id}`), async (selected) => {
    groups = await api('GET', '/api/groups');
    fillScopes(selected);
    await load();
  });
  scope.addEventListener('change', () => { actions.show(); load(); });
  fillScopes('global');
  main.append(el('h1', {}, 'Settings'), groupForm, el('p', {}, el('label', {}, 'Scope ', scope), ' ', actions.node),
    el('p', { class: 'muted' }, 'A group\'s value overrides the global one for the devices in that group. Assign devices to groups on their device page.'),
    body);
  await load();
}

// deleteConsequences says what deleting group g removes, for the
// confirmation: its devices fall back to global settings, its group-scope
// settings and entitlements are deleted.
export function deleteConsequences(g, settings, entitlements) {
  const n = (k, one, many) => `${k} ${k === 1 ? one : many}`;
  let s = `Delete group ${g.name}? ${n(g.devices, 'device falls', 'devices fall')} back to no group (global settings apply)`;
  s += settings.length ? `; ${n(settings.length, 'group setting is', 'group settings are')} removed (${settings.join(', ')})` : '';
  s += entitlements.length ? `; ${n(entitlements.length, 'entitlement is', 'entitlements are')} deleted too (${entitlements.join(', ')}) and their grants in force are revoked` : '';
  return s + '.';
}

// groupActions are the Rename and Delete controls of the selected group
// (current returns it, or undefined for the global scope); changed(scope)
// reloads the page's groups and selects scope.
function groupActions(current, changed) {
  const name = el('input', { id: 'group-rename-name', maxlength: '64', 'aria-label': 'Group name' });
  const err = el('span', { class: 'error', id: 'group-action-error' });
  const rename = el('button', { type: 'button', id: 'group-rename', onclick: async () => {
    const g = current();
    err.textContent = '';
    try {
      await api('PUT', `/api/groups/${g.id}`, { name: name.value });
      await changed(`group:${g.id}`);
    } catch (e) { err.textContent = e.message; }
  } }, 'Rename');
  const del = el('button', { type: 'button', id: 'group-delete', onclick: async () => {
    const g = current();
    err.textContent = '';
    try {
      const scope = `group:${g.id}`;
      const [values, ents] = await Promise.all([api('GET', `/api/settings?scope=${encodeURIComponent(scope)}`), api('GET', '/api/access/entitlements')]);
      const own = values.filter((v) => v.source === scope).map((v) => v.key);
      const mine = ents.filter((x) => x.group_id === g.id).map((x) => x.name);
      if (!confirm(deleteConsequences(g, own, mine))) return;
      await api('DELETE', `/api/groups/${g.id}${mine.length ? '?force=true' : ''}`);
      await changed('global');
    } catch (e) { err.textContent = e.message; }
  } }, 'Delete group');
  const node = el('span', { id: 'group-actions' }, name, ' ', rename, ' ', del, ' ', err);
  const show = () => {
    const g = current();
    node.hidden = !g;
    if (g) name.value = g.name;
  };
  return { node, show };
}

// deviceSettingsPanel shows a device's group (admins can change it) and
// every setting's effective value with where it comes from.
export function deviceSettingsPanel(deviceId, me) {
  const section = el('section', { class: 'panel', id: 'device-settings' }, el('h2', {}, 'Group and settings'));
  const fill = async () => {
    const [keys, groups, values, cur] = await Promise.all([api('GET', '/api/settings/keys'), api('GET', '/api/groups'),
      api('GET', `/api/settings?device=${encodeURIComponent(deviceId)}`), api('GET', `/api/devices/${deviceId}/group`)]);
    while (section.children.length > 1) section.lastChild.remove();
    if (me.role === 'admin') {
      const sel = el('select', { id: 'device-group' }, el('option', { value: '' }, '(no group)'),
        groups.map((g) => el('option', { value: g.id, selected: g.id === cur.group_id }, g.name)));
      const err = el('span', { class: 'error', id: 'device-group-error' });
      const save = el('button', { type: 'button', id: 'device-group-save', onclick: async () => {
        err.textContent = '';
        try { await api('PUT', `/api/devices/${deviceId}/group`, { group_id: sel.value }); await fill(); } catch (e) { err.textContent = e.message; }
      } }, 'Move');
      section.append(el('p', {}, el('label', {}, 'Group ', sel), ' ', save, ' ', err));
    } else {
      const g = groups.find((x) => x.id === cur.group_id);
      section.append(el('p', {}, 'Group: ', g ? g.name : '(none)'));
    }
    section.append(table(['Setting', 'Effective value', 'From'], keys.map((k) => {
      const v = values.find((x) => x.key === k.key) || { value: k.default, source: 'default' };
      return el('tr', { 'data-effective': k.key }, el('td', {}, k.label), el('td', { class: 'value' }, v.value),
        el('td', { class: 'source' }, sourceText(v.source, groups)));
    })));
  };
  fill().catch((e) => section.append(el('p', { class: 'error' }, e.message)));
  return section;
}
