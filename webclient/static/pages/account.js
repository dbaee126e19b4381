// pages/account.js: the user's own account: two-factor authentication
// (TOTP) status, enrollment with a QR code and the secret, recovery codes
// shown once, regeneration behind a fresh code; and the step-up prompt that
// starting a remote support session may need.
import { api } from '../api.js';
import { el, clear } from '../dom.js';
import { apiTokensPanel } from './apitokens.js';

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
  main.append(await apiTokensPanel());
}

// askStepUp shows a modal asking for an authenticator code and verifies it
// with the broker. It resolves true once verified, false if cancelled.
export function askStepUp(reason) {
  return new Promise((resolve) => {
    const dlg = el('dialog', { id: 'stepup-dialog' });
    const done = (ok) => { dlg.close(); dlg.remove(); resolve(ok); };
    dlg.append(el('h2', {}, 'Confirm it is you'), el('p', {}, reason),
      codeForm('stepup', 'Authenticator code', 'Verify', async (code) => {
        await api('POST', '/api/mfa/stepup', { code });
        done(true);
      }),
      el('button', { type: 'button', class: 'secondary', id: 'stepup-cancel', onclick: () => done(false) }, 'Cancel'));
    dlg.addEventListener('cancel', () => done(false));
    document.body.append(dlg);
    dlg.showModal();
    dlg.querySelector('input').focus();
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
    if (!data || data.step_up !== 'code') return res;
    if (!(await askStepUp(data.error))) return res;
    return original(input, init);
  };
}
