/* The index page: the user's rooms update live from the personal channel
 * (personal:<user id>, a server-side subscription): new messages move a room to the top with
 * its last message and unread count; read marks from other tabs clear the badge; joins and
 * leaves add, remove or recount rooms. Unrecovered (re)subscriptions reload the list. */
(function () {
  'use strict';
  const {centrifuge, me, log} = window.chat;
  const list = document.getElementById('room-list');
  const template = document.getElementById('room-item-template');
  const empty = document.getElementById('no-rooms');

  function find(slug) {
    return list.querySelector('[data-room="' + CSS.escape(slug) + '"]');
  }

  function part(li, role) {
    return li.querySelector('[data-role="' + role + '"]');
  }

  function setUnread(li, count) {
    const badge = part(li, 'unread');
    badge.textContent = String(count);
    badge.classList.toggle('hidden', !count);
  }

  function setMembers(li, count) {
    part(li, 'members').textContent = count + ' member' + (count === 1 ? '' : 's');
  }

  function setLast(li, message) {
    const last = part(li, 'last');
    last.replaceChildren();
    if (!message) {
      last.textContent = 'No messages yet';
      return;
    }
    const who = document.createElement('b');
    who.textContent = message.author.username + ':';
    const text = message.text.length > 80 ? message.text.slice(0, 79) + '…' : message.text;
    last.append(who, ' ' + text);
  }

  function build(room) {
    const li = template.content.firstElementChild.cloneNode(true);
    li.dataset.room = room.slug;
    li.querySelector('a').href = room.url;
    li.querySelector('.avatar').textContent = room.name.charAt(0).toUpperCase();
    li.querySelector('.room-name').textContent = room.name;
    setLast(li, room.last_message || null);
    setMembers(li, room.members || 1);
    setUnread(li, room.unread || 0);
    return li;
  }

  function updateEmpty() {
    empty.classList.toggle('hidden', list.children.length > 0);
  }

  async function reload() {
    const response = await fetch('/rooms.json', {credentials: 'same-origin'});
    if (!response.ok) return;
    const data = await response.json();
    list.replaceChildren(...data.rooms.map(build));
    updateEmpty();
    log.push({event: 'reloaded'});
  }

  function handle(data) {
    log.push({event: 'personal', type: data.type});
    if (data.type === 'message') {
      let li = find(data.room.slug);
      if (!li) {
        li = build({...data.room, unread: data.unread, last_message: data.message});
      }
      setLast(li, data.message);
      setUnread(li, data.unread);
      list.prepend(li);
    } else if (data.type === 'read') {
      const li = find(data.room);
      if (li) setUnread(li, data.unread);
    } else if (data.type === 'membership') {
      const li = find(data.room.slug);
      if (me && data.user.id === me.id) {
        if (data.action === 'left' && li) li.remove();
        if (data.action === 'joined' && !li) list.prepend(build({...data.room, unread: data.unread}));
      } else if (li) {
        setMembers(li, data.room.members);
      }
    }
    updateEmpty();
  }

  centrifuge.on('publication', (ctx) => {
    if (ctx.channel.startsWith('personal:')) handle(ctx.data);
  });
  centrifuge.on('subscribed', (ctx) => {
    if (!ctx.channel.startsWith('personal:')) return;
    log.push({event: 'personal-subscribed', recovered: ctx.recovered});
    if (!ctx.recovered) reload();
  });
  centrifuge.connect();
})();
