// app.js: the portal shell: session check, navigation and a hash router.
import { api, APIError } from './api.js';
import { loginPage } from './pages/login.js';
import { devicesPage, devicePage } from './pages/devices.js';
import { tokensPage } from './pages/tokens.js';
import { usersPage } from './pages/users.js';
import { auditPage, sessionDetailsPage } from './pages/audit.js';
import { sessionPage } from './pages/session.js';
import { accountPage, installStepUp } from './pages/account.js';
import { recordingsPage, recordingPage } from './pages/recordings.js';
import { requestsPage } from './pages/requests.js';
import { settingsPage } from './pages/settings.js';
import { accessPage, accessRequestPage } from './pages/access.js';
import { installNotifications, stopNotifications } from './notify.js';
import { el, clear } from './dom.js';

const state = { me: null, cleanup: null };

const routes = [
  { re: /^#\/login$/, page: loginPage, public: true },
  { re: /^#\/devices$/, page: devicesPage },
  { re: /^#\/devices\/([A-Za-z0-9_-]+)$/, page: devicePage },
  { re: /^#\/tokens$/, page: tokensPage, role: ['admin'] },
  { re: /^#\/users$/, page: usersPage, role: ['admin'] },
  { re: /^#\/audit$/, page: auditPage, role: ['admin', 'auditor'] },
  { re: /^#\/audit\/sessions\/([A-Za-z0-9_-]+)$/, page: sessionDetailsPage, role: ['admin', 'auditor'] },
  // Any role: the broker lets the session's owner in (by role or grant).
  { re: /^#\/sessions\/([A-Za-z0-9_-]+)$/, page: sessionPage },
  { re: /^#\/account$/, page: accountPage },
  { re: /^#\/recordings$/, page: recordingsPage, role: ['admin', 'auditor'] },
  { re: /^#\/recordings\/([A-Za-z0-9_-]+)$/, page: recordingPage, role: ['admin', 'auditor'] },
  { re: /^#\/requests$/, page: requestsPage, role: ['admin', 'technician', 'approver'] },
  { re: /^#\/settings$/, page: settingsPage, role: ['admin'] },
  { re: /^#\/access$/, page: accessPage },
  { re: /^#\/access\/([A-Za-z0-9_-]+)$/, page: accessRequestPage },
];

export function banner(msg, kind = 'error') {
  const b = document.getElementById('banner');
  b.textContent = msg;
  b.className = kind;
  b.hidden = !msg;
}

function renderNav() {
  const nav = document.getElementById('nav');
  clear(nav);
  const links = [['#/devices', 'Inventory']];
  if (state.me.role === 'admin') links.push(['#/tokens', 'Enrollment'], ['#/users', 'Users']);
  if (state.me.role === 'admin' || state.me.role === 'auditor') links.push(['#/audit', 'Audit log']);
  if (state.me.role === 'admin' || state.me.role === 'auditor') links.push(['#/recordings', 'Recordings']);
  if (['admin', 'technician', 'approver'].includes(state.me.role)) links.push(['#/requests', 'Requests']);
  if (state.me.role === 'admin') links.push(['#/settings', 'Settings']);
  links.push(['#/access', 'Access']);
  links.push(['#/account', 'Account']);
  for (const [href, text] of links) nav.append(el('a', { href, id: `nav-${href.slice(2)}` }, text));
  installNotifications(state.me);
  document.getElementById('whoami').textContent = `${state.me.username} (${state.me.role})`;
  document.getElementById('topbar').hidden = false;
}

export async function route() {
  if (state.cleanup) { state.cleanup(); state.cleanup = null; }
  banner('');
  const hash = location.hash || '#/devices';
  const r = routes.find((x) => x.re.test(hash));
  if (!r) { location.hash = '#/devices'; return; }
  if (!r.public && !state.me) {
    try {
      state.me = await api('GET', '/api/me');
    } catch (e) {
      if (e instanceof APIError && e.status === 401) {
        sessionStorage.setItem('after-login', hash);
        location.hash = '#/login';
        return;
      }
      banner(e.message);
      return;
    }
  }
  if (state.me) renderNav();
  if (r.role && !r.role.includes(state.me.role)) {
    banner('Your role does not allow this page.');
    return;
  }
  const main = document.getElementById('main');
  clear(main);
  const args = hash.match(r.re).slice(1);
  try {
    state.cleanup = await r.page(main, { me: state.me, args, onLogin: (me) => { state.me = me; } }) || null;
  } catch (e) {
    if (e instanceof APIError && e.status === 401) {
      state.me = null;
      location.hash = '#/login';
      return;
    }
    banner(e.message);
  }
}

document.getElementById('logout').addEventListener('click', async () => {
  try { await api('POST', '/api/logout'); } catch { /* already out */ }
  stopNotifications();
  state.me = null;
  document.getElementById('topbar').hidden = true;
  location.hash = '#/login';
});
window.addEventListener('hashchange', route);
installStepUp();
route();
