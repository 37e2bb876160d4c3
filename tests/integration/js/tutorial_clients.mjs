// The Django chat tutorial's two browser tabs, as two centrifuge-js clients under Node.
//
// Both clients open the WebSocket with their own `Cookie` header (what a browser sends
// for the Django origin) plus `X-Not-Forwarded: 1`, subscribe to the room channel, and
// once both are subscribed client 1 publishes the message (as the tutorial's room page
// does with `sub.publish({message})`). Both must receive it.
//
// Usage: node tutorial_clients.mjs '<json>'   or   node tutorial_clients.mjs < input.json
//
// Input:
//   {
//     "url": "ws://127.0.0.1:8001/connection/websocket",
//     "channel": "rooms:lobby",
//     "data": {"message": "hello"},
//     "timeoutMs": 10000,                          // per waiting stage
//     "clients": [{"headers": {"Cookie": "sessionid=...", "X-Not-Forwarded": "1"}}, ...]
//   }
//
// Output (last stdout line, JSON):
//   {"ok": true, "publishResult": {...}, "clients": [{"clientId", "events": [...]}, ...]}
//   {"ok": false, "failure": "timed out after ...", "clients": [...]}   (exit code 1)

import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { Centrifuge } from 'centrifuge';

function readInput() {
  const raw = process.argv[2] !== undefined ? process.argv[2] : readFileSync(0, 'utf8');
  return JSON.parse(raw);
}

// A `ws` WebSocket that always sends `headers` on the handshake. centrifuge-js calls
// `new options.websocket(url)` (or `(url, subprotocol)`), so the headers go in here.
function websocketWithHeaders(headers) {
  return class extends WebSocket {
    constructor(address, protocols) {
      super(address, protocols ?? [], { headers });
    }
  };
}

function plainError(err) {
  if (err && typeof err === 'object' && 'code' in err) {
    return { code: err.code, message: err.message };
  }
  return { code: null, message: String(err) };
}

function plainInfo(info) {
  return info ? { client: info.client, user: info.user } : null;
}

class Tab {
  constructor(index, input, onEvent) {
    this.index = index;
    this.clientId = null;
    this.events = [];
    this.onEvent = onEvent;
    const spec = input.clients[index];
    this.centrifuge = new Centrifuge(input.url, {
      websocket: websocketWithHeaders(spec.headers ?? {}),
      timeout: input.timeoutMs,
      minReconnectDelay: 100,
      maxReconnectDelay: 500,
    });
    const c = this.centrifuge;
    c.on('connecting', (ctx) => this.record('connecting', { code: ctx.code, reason: ctx.reason }));
    c.on('connected', (ctx) => {
      this.clientId = ctx.client;
      this.record('connected', { clientId: ctx.client, transport: ctx.transport });
    });
    c.on('disconnected', (ctx) => this.record('disconnected', { code: ctx.code, reason: ctx.reason }));
    c.on('error', (ctx) => this.record('error', { type: ctx.type, error: plainError(ctx.error) }));

    const channel = input.channel;
    this.sub = c.newSubscription(channel);
    const s = this.sub;
    s.on('subscribing', (ctx) => this.record('subscribing', { channel, code: ctx.code, reason: ctx.reason }));
    s.on('subscribed', () => this.record('subscribed', { channel }));
    s.on('unsubscribed', (ctx) => this.record('unsubscribed', { channel, code: ctx.code, reason: ctx.reason }));
    s.on('error', (ctx) => this.record('sub_error', { channel, type: ctx.type, error: plainError(ctx.error) }));
    s.on('publication', (ctx) => this.record('publication', {
      channel, data: ctx.data, info: plainInfo(ctx.info),
    }));
  }

  record(event, fields) {
    this.events.push({ event, ...fields });
    this.onEvent();
  }

  has(event) {
    return this.events.some((e) => e.event === event);
  }

  report() {
    return { clientId: this.clientId, events: this.events };
  }
}

async function main() {
  const input = readInput();
  const timeoutMs = input.timeoutMs ?? 10000;
  let waiters = [];
  const notify = () => {
    for (const waiter of waiters.slice()) {
      waiter();
    }
  };
  const waitFor = (predicate, what) => new Promise((resolve, reject) => {
    const check = () => {
      if (predicate()) {
        cleanup();
        resolve();
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${timeoutMs}ms waiting for ${what}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      waiters = waiters.filter((w) => w !== check);
    };
    waiters.push(check);
    check();
  });

  const tabs = input.clients.map((_, i) => new Tab(i, input, notify));
  // The report is taken before the final disconnect, so it holds only the flow's events.
  const finish = (result, code) => {
    const line = JSON.stringify({ ...result, clients: tabs.map((t) => t.report()) });
    for (const tab of tabs) {
      tab.centrifuge.disconnect();
    }
    process.stdout.write(`${line}\n`);
    process.exit(code);
  };

  try {
    for (const tab of tabs) {
      tab.sub.subscribe();
      tab.centrifuge.connect();
    }
    await waitFor(() => tabs.every((t) => t.has('subscribed')), 'every client to be subscribed');
    let publishResult;
    try {
      publishResult = await tabs[0].sub.publish(input.data);
    } catch (err) {
      throw new Error(`publish failed: ${JSON.stringify(plainError(err))}`);
    }
    await waitFor(
      () => tabs.every((t) => t.has('publication')),
      'every client to receive the publication',
    );
    finish({ ok: true, publishResult: publishResult ?? null }, 0);
  } catch (err) {
    const failure = err instanceof Error ? err.message : String(err);
    process.stderr.write(`tutorial_clients: ${failure}\n`);
    finish({ ok: false, failure }, 1);
  }
}

main();
