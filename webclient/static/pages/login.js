// pages/login.js: username + password login.
import { api } from '../api.js';
import { el } from '../dom.js';

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
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    btn.disabled = true;
    btn.textContent = 'Logging in…';
    try {
      const me = await api('POST', '/api/login', { username: user.value, password: pass.value });
      ctx.onLogin(me);
      location.hash = sessionStorage.getItem('after-login') || '#/devices';
      sessionStorage.removeItem('after-login');
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
