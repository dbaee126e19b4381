// api.js: thin JSON helpers for the broker API. Every error carries the
// broker's message so pages can show it as is.

export class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: 'same-origin' };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    throw new APIError(0, 'cannot reach the broker: ' + e.message);
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = { error: text }; }
  }
  if (!res.ok) {
    throw new APIError(res.status, (data && data.error) || res.statusText);
  }
  return data;
}

// events opens the live websocket and calls onEvent for each update. It
// reconnects with backoff and calls onReconnect so pages can reload state
// they might have missed. onOpen, if given, is called when the first
// connection is up, for pages that must not miss what happened between
// their first load and the subscription.
export function events(onEvent, onReconnect, onOpen) {
  let ws, closed = false, delay = 500;
  const open = () => {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(`${proto}//${location.host}/api/events`);
    ws.onopen = () => {
      if (delay > 500) onReconnect();
      else if (onOpen) { onOpen(); onOpen = null; }
      delay = 500;
    };
    ws.onmessage = (m) => { try { onEvent(JSON.parse(m.data)); } catch { /* ignore */ } };
    ws.onclose = async (ev) => {
      if (closed) return;
      if (ev.code === 4001) {
        // The broker closed it because this login's access ended or
        // changed: log in again if it ended, else reconnect at once.
        const me = await fetch('/api/me', { credentials: 'same-origin' }).catch(() => null);
        if (me && me.status === 401) { closed = true; loginEnded(ev.reason); return; }
        if (delay === 500) delay = 1000; // a reconnect: the page reloads its state
        open();
        return;
      }
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 10000);
    };
  };
  open();
  return () => { closed = true; ws.close(); };
}

// loginEnded tells the user the broker ended their login (logged out
// elsewhere, locked out by an admin) and why; the page stays as it is,
// and the next request leads to the login page.
function loginEnded(reason) {
  const b = document.getElementById('banner');
  if (!b) return;
  b.textContent = `Your login has ended${reason ? ': ' + reason : ''}. Log in again to go on.`;
  b.className = 'error';
  b.hidden = false;
}
