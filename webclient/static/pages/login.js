// pages/login.js: username + password, then the second factor when the
// account has one (an authenticator or recovery code), or TOTP enrollment
// first when the portal requires MFA and the account has none.
import { api } from '../api.js';
import { el, clear } from '../dom.js';
import { enrollWidget, usePasskey, registerPasskey } from './account.js';
import { getPasskey } from '../webauthn.js';

export async function loginPage(main, ctx) {
  document.getElementById('topbar').hidden = true;
  const err = el('p', { class: 'error', id: 'login-error', role: 'alert' });
  const user = el('input', { id: 'username', name: 'username', autocomplete: 'username', required: true });
  const pass = el('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const btn = el('button', { type: 'submit', id: 'login-submit' }, 'Log in');
  const form = el('form', { class: 'card login' },
    el('h1', {}, 'Porthole'),
    el('label', {}, 'Username', user),
    el('label', {}, 'Password', pass),
    btn, err);
  const enter = (me) => {
    ctx.onLogin(me);
    location.hash = sessionStorage.getItem('after-login') || '#/devices';
    sessionStorage.removeItem('after-login');
  };
  const secondStep = () => {
    const code = el('input', { id: 'mfa-code', name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', required: true, maxlength: '12' });
    const cerr = el('p', { class: 'error', id: 'mfa-error', role: 'alert' });
    const cbtn = el('button', { type: 'submit', id: 'mfa-submit' }, 'Verify');
    const cform = el('form', { class: 'card login', id: 'mfa-form' },
      el('h1', {}, 'Porthole'),
      el('p', {}, 'Enter the 6-digit code from your authenticator app, or one of your recovery codes.'),
      el('label', {}, 'Code', code), cbtn, cerr);
    api('GET', '/api/mfa').then((st) => {
      if (st.passkeys > 0) {
        cform.append(el('button', { type: 'button', class: 'secondary', id: 'mfa-passkey', onclick: async () => {
          cerr.textContent = '';
          try { enter(await usePasskey()); } catch (e) { cerr.textContent = e.message; }
        } }, 'Use a passkey instead'));
      }
    }).catch(() => {});
    cform.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      cerr.textContent = '';
      cbtn.disabled = true;
      try {
        enter(await api('POST', '/api/login/mfa', { code: code.value.trim() }));
      } catch (e) {
        cerr.textContent = e.message;
        code.value = '';
        code.focus();
      } finally {
        cbtn.disabled = false;
      }
    });
    clear(main);
    main.append(cform);
    code.focus();
  };
  const mustEnroll = async () => {
    const box = el('div', { class: 'login-enroll' });
    clear(main);
    main.append(el('p', { class: 'card' }, 'Your organisation requires two-factor authentication. Set it up to continue.'), box);
    await enrollWidget(box, (codes, me) => {
      const go = el('button', { id: 'enroll-continue', onclick: () => enter(me) }, 'I have saved my recovery codes — continue');
      box.append(el('div', { class: 'card secret', id: 'recovery-codes' },
        el('p', {}, 'Recovery codes (shown once; each works once if you lose your authenticator):'),
        el('ol', { class: 'codes mono' }, codes.map((c) => el('li', { class: 'recovery-code' }, c))), go));
      go.focus();
    });
  };
  // A sign-in at an identity provider that came back refused says why.
  const ssoErr = new URLSearchParams(location.search).get('sso_error');
  if (ssoErr) {
    err.textContent = ssoErr;
    history.replaceState(null, '', '/' + location.hash);
  }
  const sso = el('div', { class: 'sso', id: 'sso-providers' });
  form.append(sso);
  api('GET', '/api/sso/providers').then((ps) => {
    for (const p of ps) {
      sso.append(el('a', { class: 'button secondary', id: `sso-${p.id}`, href: `/api/sso/${encodeURIComponent(p.id)}/login` },
        `Sign in with ${p.name}`));
    }
  }).catch(() => { /* no providers: local login only */ });
  // A role that needs a phishing-resistant factor: use a passkey, or
  // register one now if the account has none.
  const passkeyStep = async () => {
    const perr = el('p', { class: 'error', id: 'passkey-error', role: 'alert' });
    const box = el('div', { class: 'card login', id: 'passkey-step' }, el('h1', {}, 'Porthole'));
    clear(main);
    main.append(box);
    const st = await api('GET', '/api/mfa');
    if (st.passkeys > 0) {
      box.append(el('p', {}, 'Your role needs a passkey or security key to log in.'),
        el('button', { type: 'button', id: 'passkey-use', onclick: async () => {
          perr.textContent = '';
          try { enter(await usePasskey()); } catch (e) { perr.textContent = e.message; }
        } }, 'Use your passkey'), perr);
    } else {
      const name = el('input', { id: 'passkey-name', value: 'My passkey', maxlength: '64' });
      box.append(el('p', {}, 'Your role needs a passkey or security key to log in. Register one now.'),
        el('label', {}, 'Name', name),
        el('button', { type: 'button', id: 'passkey-register', onclick: async () => {
          perr.textContent = '';
          try {
            await registerPasskey(name.value);
            enter(await api('GET', '/api/me'));
          } catch (e) { perr.textContent = e.message; }
        } }, 'Register a passkey'), perr);
    }
  };
  // Back from an identity provider with a login that still owes a passkey.
  api('GET', '/api/mfa').then((st) => {
    if (st.pending && st.pending_factor === 'passkey') passkeyStep();
  }).catch(() => { /* not logged in */ });
  const pkLogin = el('button', { type: 'button', class: 'secondary', id: 'passkey-login', onclick: async () => {
    err.textContent = '';
    try {
      const b = await api('POST', '/api/passkeys/login/begin');
      const cred = await getPasskey(b.options);
      enter(await api('POST', '/api/passkeys/login/finish', { ceremony: b.ceremony, credential: cred }));
    } catch (e) {
      err.textContent = e.message;
    }
  } }, 'Sign in with a passkey');
  sso.append(pkLogin);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    btn.disabled = true;
    btn.textContent = 'Logging in…';
    try {
      const me = await api('POST', '/api/login', { username: user.value, password: pass.value });
      if (me.mfa === 'verify') secondStep();
      else if (me.mfa === 'passkey') await passkeyStep();
      else if (me.mfa === 'enroll') await mustEnroll();
      else enter(me);
    } catch (e) {
      err.textContent = e.message;
      pass.value = '';
      pass.focus();
    } finally {
      btn.disabled = false;
      btn.textContent = 'Log in';
    }
  });
  main.append(form);
  user.focus();
}
