/* The room page: messages arrive on rooms:<slug> (the publish proxy has already stored them
 * and replaced the payload with the stored message: id, author, timestamp). Messages are
 * keyed by id, so a message shown once is never shown twice. After a reconnect the server
 * recovers missed publications from the channel history; when it cannot (recovered: false),
 * the page reloads the messages from Django. The online list comes from presence plus
 * join/leave pushes; "typing" publications are not kept in history. */
(function () {
  'use strict';
  const {centrifuge, me, postJSON, subscriptionOptions, clientId, log} = window.chat;
  const page = JSON.parse(document.getElementById('room-data').textContent);
  const slug = page.room.slug;
  const thread = document.getElementById('chat-thread');
  const form = document.getElementById('chat-form');
  const input = document.getElementById('chat-message-input');
  const typingLine = document.getElementById('typing');
  const onlineList = document.getElementById('online-list');
  const onlineCount = document.getElementById('online-count');
  const errorLine = document.getElementById('chat-error');
  const timeFormat = new Intl.DateTimeFormat(undefined, {hour: '2-digit', minute: '2-digit', hourCycle: 'h23'});

  const seen = new Set();
  let lastId = 0;
  for (const li of thread.children) {
    const id = Number(li.dataset.id);
    seen.add(id);
    lastId = Math.max(lastId, id);
  }

  function showError(text) {
    errorLine.textContent = text;
    errorLine.classList.toggle('hidden', !text);
  }

  function nearBottom() {
    return thread.scrollHeight - thread.scrollTop - thread.clientHeight < 80;
  }

  function render(message) {
    const li = document.createElement('li');
    li.className = 'msg' + (me && message.author.id === me.id ? ' mine' : '');
    li.dataset.id = String(message.id);
    const author = document.createElement('span');
    author.className = 'msg-author';
    author.textContent = message.author.username;
    const text = document.createElement('span');
    text.className = 'msg-text';
    text.textContent = message.text;
    const time = document.createElement('time');
    time.className = 'msg-time';
    time.dateTime = message.created;
    time.textContent = timeFormat.format(new Date(message.created));
    li.append(author, text, time);
    return li;
  }

  function addMessage(message) {
    if (seen.has(message.id)) return false;
    const stick = nearBottom() || (me && message.author.id === me.id);
    seen.add(message.id);
    const li = render(message);
    let before = null;
    if (message.id < lastId) {
      for (const other of thread.children) {
        if (Number(other.dataset.id) > message.id) { before = other; break; }
      }
    }
    thread.insertBefore(li, before);
    lastId = Math.max(lastId, message.id);
    if (stick) thread.scrollTop = thread.scrollHeight;
    return true;
  }

  let readTimer = null;
  function scheduleRead() {
    if (readTimer !== null || document.visibilityState !== 'visible') return;
    readTimer = setTimeout(() => {
      readTimer = null;
      postJSON('/rooms/' + slug + '/read/', {last_id: lastId}).catch(() => {});
    }, 300);
  }
  document.addEventListener('visibilitychange', () => { if (lastId) scheduleRead(); });

  async function reload() {
    let url = '/rooms/' + slug + '/messages/' + (lastId ? '?after=' + lastId : '');
    for (let page = 0; page < 20; page++) {
      const response = await fetch(url, {credentials: 'same-origin'});
      if (!response.ok) return;
      const data = await response.json();
      data.messages.forEach(addMessage);
      if (!lastId || data.messages.length === 0) break;
      url = '/rooms/' + slug + '/messages/?after=' + lastId;
    }
    log.push({event: 'reloaded', lastId});
    scheduleRead();
  }

  // -- typing --------------------------------------------------------------------------------
  const typists = new Map();
  function renderTyping() {
    const names = [...typists.keys()];
    typingLine.textContent = names.length === 0 ? '' :
      names.join(', ') + (names.length === 1 ? ' is typing…' : ' are typing…');
  }
  function typing(username) {
    clearTimeout(typists.get(username));
    typists.set(username, setTimeout(() => { typists.delete(username); renderTyping(); }, 3000));
    renderTyping();
  }
  function stoppedTyping(username) {
    clearTimeout(typists.get(username));
    typists.delete(username);
    renderTyping();
  }

  // -- online list ---------------------------------------------------------------------------
  const online = new Map();  // user id -> {username, clients: Set}
  function nameOf(info) {
    const data = info.chanInfo || info.connInfo || {};
    return data.username || info.user;
  }
  function renderOnline() {
    const people = [...online.values()].sort((a, b) => a.username.localeCompare(b.username));
    onlineList.replaceChildren(...people.map((person) => {
      const li = document.createElement('li');
      li.dataset.user = person.username;
      li.textContent = person.username;
      return li;
    }));
    onlineCount.textContent = String(people.length);
  }
  function join(info) {
    const person = online.get(info.user) || {username: nameOf(info), clients: new Set()};
    person.clients.add(info.client);
    online.set(info.user, person);
    renderOnline();
  }
  function leave(info) {
    const person = online.get(info.user);
    if (!person) return;
    person.clients.delete(info.client);
    if (person.clients.size === 0) online.delete(info.user);
    renderOnline();
  }
  async function loadPresence(sub) {
    try {
      const result = await sub.presence();
      online.clear();
      Object.values(result.clients).forEach(join);
      renderOnline();
    } catch (err) {
      log.push({event: 'presence-error', code: err.code});
    }
  }

  // -- subscription --------------------------------------------------------------------------
  const sub = centrifuge.newSubscription(page.channel, subscriptionOptions(page.channel));
  sub.on('publication', (ctx) => {
    const data = ctx.data;
    if (data.type === 'message') {
      stoppedTyping(data.author.username);
      if (addMessage(data)) scheduleRead();
    } else if (data.type === 'typing' && (!me || data.user.id !== me.id)) {
      typing(data.user.username);
    }
  });
  sub.on('subscribed', (ctx) => {
    log.push({event: 'subscribed', recovered: ctx.recovered, wasRecovering: ctx.wasRecovering});
    showError('');
    if (!ctx.recovered) reload();
    loadPresence(sub);
  });
  sub.on('join', (ctx) => join(ctx.info));
  sub.on('leave', (ctx) => leave(ctx.info));
  sub.on('error', (ctx) => log.push({event: 'sub-error', type: ctx.type, code: ctx.error.code}));
  sub.on('unsubscribed', (ctx) => {
    log.push({event: 'unsubscribed', code: ctx.code});
    online.clear();
    renderOnline();
    if (ctx.code !== 0) showError('You can no longer read this room (' + ctx.reason + ').');
  });
  centrifuge.on('disconnected', () => { online.clear(); renderOnline(); });

  // -- sending -------------------------------------------------------------------------------
  let pending = null;  // {text, client_id}: a retry of the same text keeps its id (dedupe)
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    if (!pending || pending.text !== text) pending = {text, client_id: clientId()};
    const sending = pending;
    try {
      await sub.publish({type: 'message', text: sending.text, client_id: sending.client_id});
      if (pending === sending) pending = null;
      if (input.value.trim() === sending.text) input.value = '';
      showError('');
    } catch (err) {
      log.push({event: 'publish-error', code: err.code});
      showError('Not sent: ' + (err.message || 'error') + ' (' + err.code + '). Press Enter to retry.');
    }
  });
  let lastTyping = 0;
  input.addEventListener('input', () => {
    const now = Date.now();
    if (!input.value.trim() || now - lastTyping < 2000) return;
    lastTyping = now;
    sub.publish({type: 'typing'}).catch(() => {});
  });

  document.getElementById('toggle-online').addEventListener('click', () => {
    document.getElementById('online').classList.toggle('open');
  });

  thread.scrollTop = thread.scrollHeight;
  window.chat.room = {sub, seen};
  sub.subscribe();
  centrifuge.connect();
})();
