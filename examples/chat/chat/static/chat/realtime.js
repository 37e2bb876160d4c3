/* Shared real-time set-up for every logged-in page: one Centrifuge client (centrifuge-js 5)
 * for the real-time server, the connection status dot, and small fetch helpers.
 * Auth mode "proxy": the browser sends the Django session cookie with the WebSocket handshake
 * and the connect proxy authenticates it. Mode "jwt": tokens come from Django (getToken). */
(function () {
  'use strict';
  const config = JSON.parse(document.getElementById('realtime-config').textContent);

  function wsUrl() {
    if (config.wsUrl) return config.wsUrl;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const host = config.wsPort ? location.hostname + ':' + config.wsPort : location.host;
    return scheme + '//' + host + '/connection/websocket';
  }

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : '';
  }

  async function postJSON(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'X-CSRFToken': csrfToken()},
      body: JSON.stringify(body || {}),
    });
  }

  async function fetchToken(url, body) {
    const response = await postJSON(url, body);
    if (response.status === 403 || response.redirected) {
      throw new Centrifuge.UnauthorizedError('permission denied');
    }
    if (!response.ok) throw new Error('token request failed: ' + response.status);
    return (await response.json()).token;
  }

  const options = {};
  if (config.auth === 'jwt') {
    options.getToken = () => fetchToken('/centripetal/token/connection/');
  }
  const centrifuge = new Centrifuge(wsUrl(), options);
  const log = [];

  const dot = document.getElementById('connection-status');
  function status(state) {
    if (dot) {
      dot.dataset.state = state;
      dot.title = 'real-time: ' + state;
    }
  }
  centrifuge.on('connecting', () => status('connecting'));
  centrifuge.on('connected', (ctx) => { status('online'); log.push({event: 'connected', client: ctx.client}); });
  centrifuge.on('disconnected', (ctx) => { status('offline'); log.push({event: 'disconnected', code: ctx.code}); });
  centrifuge.on('error', (ctx) => log.push({event: 'error', type: ctx.type, code: ctx.error && ctx.error.code}));

  function subscriptionOptions(channel) {
    if (config.auth !== 'jwt') return {};
    return {getToken: () => fetchToken('/centripetal/token/subscription/', {channel: channel})};
  }

  function clientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 12);
  }

  window.chat = {config, me: config.me, centrifuge, postJSON, subscriptionOptions, clientId, log};
})();
