// notify.js: in-page notifications of new requests on every page: a toast
// ("New support request from HOST") and the pending count on the Requests
// link, kept current over the events websocket.
import { api, events } from './api.js';
import { el } from './dom.js';

const mayView = (me) => ['admin', 'technician', 'approver'].includes(me.role);
let stop = null;
let user = '';
let pending = 0;

function showCount() {
  const link = document.getElementById('nav-requests');
  if (!link) return;
  link.textContent = pending > 0 ? `Requests (${pending})` : 'Requests';
}

async function refresh() {
  try {
    pending = (await api('GET', '/api/requests?status=pending')).length;
  } catch { /* logged out: the router handles it */ }
  showCount();
}

function toast(text) {
  let box = document.getElementById('notifications');
  if (!box) {
    box = el('div', { id: 'notifications', role: 'status', 'aria-live': 'polite' });
    document.body.append(box);
  }
  const t = el('div', { class: 'toast' }, el('a', { href: '#/requests' }, text),
    el('button', { type: 'button', class: 'close', onclick: () => t.remove() }, '×'));
  box.append(t);
  setTimeout(() => t.remove(), 15000);
}

// installNotifications starts (once per logged-in user) the listener.
export function installNotifications(me) {
  showCount();
  if (user === me.username) return;
  if (stop) stop();
  stop = null;
  user = me.username;
  if (!mayView(me)) return;
  refresh();
  stop = events((ev) => {
    if (ev.type !== 'request') return;
    if (ev.data && ev.data.status === 'pending') toast(`New ${ev.data.kind} request from ${ev.data.hostname || 'a device'}`);
    refresh();
  }, refresh, refresh);
}

// stopNotifications ends the listener (at logout).
export function stopNotifications() {
  if (stop) stop();
  stop = null;
  user = '';
  pending = 0;
}
