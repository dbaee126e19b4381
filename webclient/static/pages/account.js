// pages/account.js: the user's own account: two-factor authentication
// (TOTP) status, enrollment with a QR code and the secret, recovery codes
// shown once, regeneration behind a fresh code; and the step-up prompt that
// starting a remote support session may need.
import { api } from '../api.js';
import { el, clear } from '../dom.js';
import { apiTokensPanel } from './apitokens.js';
import { createPasskey, getPasskey } from '../webauthn.js';

// usePasskey checks one of the user's passkeys with the broker (the
// second factor of a login, or a step-up) and returns the answer.
export async function usePasskey() {
  const b = await api('POST', '/api/passkeys/verify/begin');
  const cred = await getPasskey(b.options);
  return api('POST', '/api/passkeys/verify/finish', { ceremony: b.ceremony, credential: cred });
}

// registerPasskey registers a new passkey named name.
export async function registerPasskey(name) {
  const b = await api('POST', '/api/passkeys/register/begin');
  const cred = await createPasskey(b.options);
  return api('POST', '/api/passkeys/register/finish', { ceremony: b.ceremony, name, credential: cred });
}

// passkeysPanel lists the user's passkeys, registers and removes them.
async function passkeysPanel() {
  const panel = el('section', { class: 'panel', id: 'passkeys-panel' });
  const load = async () => {
    const list = await api('GET', '/api/passkeys');
    clear(panel);
    const err = el('p', { class: 'error', id: 'passkey-error', role: 'alert' });
    const name = el('input', { id: 'passkey-name', value: 'My passkey', maxlength: '64', required: true });
    const form = el('form', { class: 'inline', id: 'passkey-form' }, el('label', {}, 'Name', name),
      el('button', { type: 'submit', id: 'passkey-register' }, 'Register a passkey'));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      err.textContent = '';
      try { await registerPasskey(name.value); await load(); } catch (x) { err.textContent = x.message; }
    });
    panel.append(el('h2', {}, 'Passkeys and security keys'),
      el('p', {}, 'Sign in without a password, and confirm it is you before sessions, break glass and codes.'),
      list.length === 0 ? el('p', { class: 'empty', id: 'passkeys-none' }, 'None registered.') :
        el('table', { id: 'passkeys' }, el('thead', {}, el('tr', {}, el('th', {}, 'Name'), el('th', {}, 'Added'), el('th', {}, 'Last used'), el('th', {}))),
          el('tbody', {}, list.map((p) => el('tr', { class: 'passkey', 'data-id': p.id },
            el('td', { class: 'passkey-name' }, p.name),
            el('td', {}, new Date(p.created_at).toLocaleString()),
            el('td', { class: 'passkey-used' }, p.last_used_at ? new Date(p.last_used_at).toLocaleString() : 'never'),
            el('td', {}, el('button', { type: 'button', class: 'secondary passkey-remove', onclick: async () => {
              if (!confirm(`Remove the passkey "${p.name}"?`)) return;
              try { await api('DELETE', `/api/passkeys/${encodeURIComponent(p.id)}`); await load(); } catch (x) { err.textContent = x.message; }
            } }, 'Remove')))))),
      form, err);
  };
  await load();
  return panel;
}

// recoveryList shows recovery codes once, with a way to copy them.
function recoveryList(codes) {
  return el('div', { class: 'card secret', id: 'recovery-codes' },
    el('p', {}, 'Recovery codes (shown once; each works once if you lose your authenticator). Keep them safe:'),
    el('ol', { class: 'codes mono' }, codes.map((c) => el('li', { class: 'recovery-code' }, c))));
}

// enrollWidget walks a user through TOTP enrollment in box and calls
// onDone(codes, me) once confirmed (the broker has then rotated the session).
export async function enrollWidget(box, onDone) {
  clear(box);
  const e = await api('POST', '/api/mfa/enroll');
  const code = el('input', { id: 'enroll-code', inputmode: 'numeric', autocomplete: 'one-time-code', required: true, maxlength: '12' });
  const err = el('p', { class: 'error', id: 'enroll-error', role: 'alert' });
  const btn = el('button', { type: 'submit', id: 'enroll-submit' }, 'Confirm');
  const form = el('form', { class: 'card enroll' },
    el('h2', {}, 'Set up two-factor authentication'),
    el('p', {}, 'Scan the QR code with an authenticator app (or type the secret), then enter the 6-digit code it shows.'),
    el('img', { id: 'mfa-qr', src: e.qr_url, width: '200', height: '200', alt: 'QR code for your authenticator app' }),
    el('p', {}, 'Secret: ', el('code', { id: 'mfa-secret' }, e.secret)),
    el('label', {}, 'Code from the app', code), btn, err);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    btn.disabled = true;
    try {
      const res = await api('POST', '/api/mfa/confirm', { code: code.value });
      clear(box);
      onDone(res.recovery_codes, { username: res.username, role: res.role });
    } catch (x) {
      err.textContent = x.message;
      code.value = '';
      code.focus();
    } finally {
      btn.disabled = false;
    }
  });
  box.append(form);
  code.focus();
}

// codeForm is a one-field form that posts a code and reports the answer.
function codeForm(id, label, submit, onCode) {
  const code = el('input', { id: `${id}-code`, inputmode: 'numeric', autocomplete: 'one-time-code', required: true, maxlength: '12' });
  const err = el('p', { class: 'error', id: `${id}-error`, role: 'alert' });
  const btn = el('button', { type: 'submit', id: `${id}-submit` }, submit);
  const form = el('form', { class: 'inline', id: `${id}-form` }, el('label', {}, label, code), btn);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    btn.disabled = true;
    try { await onCode(code.value); code.value = ''; } catch (x) { err.textContent = x.message; code.value = ''; code.focus(); } finally { btn.disabled = false; }
  });
  return el('div', {}, form, err);
}

export async function accountPage(main, ctx) {
  const body = el('div');
  main.append(el('h1', {}, 'Account'), el('p', {}, `${ctx.me.username} (${ctx.me.role})`), body);
  const load = async (shown) => {
    const st = await api('GET', '/api/mfa');
    clear(body);
    const panel = el('section', { class: 'panel', id: 'mfa-panel' }, el('h2', {}, 'Two-factor authentication'));
    body.append(panel);
    if (!st.enrolled) {
      panel.append(el('p', { id: 'mfa-status', 'data-enrolled': 'false' },
        st.required ? 'Required by your organisation, and not set up yet.' : 'Not set up.'));
      const box = el('div');
      panel.append(el('button', { id: 'mfa-enroll-start', onclick: async (ev) => {
        ev.target.remove();
        await enrollWidget(box, (codes) => load(codes));
      } }, 'Set up two-factor authentication'), box);
      return;
    }
    panel.append(el('p', { id: 'mfa-status', 'data-enrolled': 'true' },
      `On since ${new Date(st.enrolled_at).toLocaleString()}. Recovery codes left: `,
      el('span', { id: 'mfa-recovery-left' }, String(st.recovery_codes_left)), '.'));
    if (shown) panel.append(recoveryList(shown));
    const needs = [st.support_step_up && 'starting a remote support session',
      st.privileged_step_up && 'creating a break-glass account or issuing an elevation code'].filter(Boolean).join(', and ');
    if (needs) {
      panel.append(el('p', { id: 'stepup-state' }, st.step_up_fresh
        ? `Verified recently: no new code is needed for ${needs} until ${st.step_up_minutes} minutes after your last code.`
        : `${needs[0].toUpperCase()}${needs.slice(1)} needs a code from the last ${st.step_up_minutes} minutes.`));
    }
    panel.append(el('h3', {}, 'New recovery codes'),
      el('p', {}, 'Replaces all your recovery codes. Enter a current code from your authenticator app.'),
      codeForm('regen', 'Authenticator code', 'Generate new recovery codes', async (code) => {
        const res = await api('POST', '/api/mfa/recovery-codes', { code });
        await load(res.recovery_codes);
      }));
  };
  await load(null);
  main.append(await passkeysPanel());
  main.append(await apiTokensPanel());
}

// askStepUp shows a modal offering the step-ups this user can do (methods:
// "code", "passkey", "idp") and verifies one with the broker. It resolves
// true once verified, false if cancelled (a fresh sign-in at the identity
// provider leaves the page and comes back to it).
export function askStepUp(reason, methods = ['code']) {
  return new Promise((resolve) => {
    const dlg = el('dialog', { id: 'stepup-dialog' });
    const done = (ok) => { dlg.close(); dlg.remove(); resolve(ok); };
    const err = el('p', { class: 'error', id: 'stepup-passkey-error', role: 'alert' });
    dlg.append(el('h2', {}, 'Confirm it is you'), el('p', {}, reason));
    if (methods.includes('passkey')) {
      dlg.append(el('button', { type: 'button', id: 'stepup-passkey', onclick: async () => {
        err.textContent = '';
        try { await usePasskey(); done(true); } catch (x) { err.textContent = x.message; }
      } }, 'Use your passkey'), err);
    }
    if (methods.includes('idp')) {
      dlg.append(el('button', { type: 'button', id: 'stepup-idp', onclick: async () => {
        try {
          const r = await api('POST', '/api/sso/stepup', { return: location.hash || '#/devices' });
          location.href = r.url;
        } catch (x) { err.textContent = x.message; }
      } }, 'Sign in again at your identity provider'), err);
    }
    if (methods.includes('code')) {
      dlg.append(codeForm('stepup', 'Authenticator code', 'Verify', async (code) => {
        await api('POST', '/api/mfa/stepup', { code });
        done(true);
      }));
    }
    dlg.append(el('button', { type: 'button', class: 'secondary', id: 'stepup-cancel', onclick: () => done(false) }, 'Cancel'));
    dlg.addEventListener('cancel', () => done(false));
    document.body.append(dlg);
    dlg.showModal();
    const first = dlg.querySelector('input') || dlg.querySelector('button');
    if (first) first.focus();
  });
}

// installStepUp makes every request that may need a fresh code (Support,
// Screenshare, approving a support request, Break Glass, issuing an
// elevation code) that the
// broker refuses for want of a fresh code ask for one and try again, so the
// inventory and the device page need no code of their own. The broker
// enforces the rule; this only saves the user a second click.
export function installStepUp() {
  const original = window.fetch.bind(window);
  window.fetch = async (input, init = {}) => {
    const res = await original(input, init);
    const url = new URL(typeof input === 'string' ? input : input.url, location.href);
    const stepsUp = url.pathname === '/api/sessions' || /^\/api\/requests\/[A-Za-z0-9_-]+\/approve$/.test(url.pathname) ||
      /^\/api\/devices\/[A-Za-z0-9_-]+\/(breakglass|elevation-codes)$/.test(url.pathname);
    if (res.status !== 403 || (init.method || 'GET') !== 'POST' || !stepsUp) return res;
    let data;
    try { data = await res.clone().json(); } catch { return res; }
    if (!data || !['code', 'passkey', 'idp'].includes(data.step_up)) return res;
    if (!(await askStepUp(data.error, data.methods || [data.step_up]))) return res;
    return original(input, init);
  };
}
