// Drives centrifuge-js over the emulated transports (http_stream, sse + /emulation) against a
// live server and prints one JSON report, like scenario.mjs does for WebSocket.
//
// Scenario (stdin or argv[2]):
//   {
//     "base": "http://127.0.0.1:8000",          // server origin
//     "emulationBase": "http://127.0.0.1:8001",  // optional: /emulation on another node
//     "timeoutMs": 10000,
//     "clients": {"a": {"token": "...", "protocol": "json" | "protobuf",
//                       "transports": ["http_stream", "sse"]}},
//     "steps": [ {"op": "connect" | "disconnect" | "subscribe" | "publish" | "presence" |
//                 "presenceStats" | "history" | "wait" | "sleep", ...} ]
//   }
// Steps and the report are those of scenario.mjs: {"ok", "failure", "events", "results"}.

import { readFileSync } from 'node:fs';
import { EventSource } from 'eventsource';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

const ENDPOINTS = {
  websocket: '/connection/websocket',
  http_stream: '/connection/http_stream',
  sse: '/connection/sse',
};

function plain(data) {
  if (data instanceof Uint8Array) {
    return decoder.decode(data);
  }
  return data === undefined ? null : data;
}

function info(i) {
  return i ? { client: i.client, user: i.user } : null;
}

function publication(ctx) {
  const out = { data: plain(ctx.data) };
  if (ctx.offset !== undefined) {
    out.offset = Number(ctx.offset);
  }
  if (ctx.info) {
    out.info = info(ctx.info);
  }
  return out;
}

function errorOf(err) {
  if (err && typeof err === 'object' && 'code' in err) {
    return { code: err.code, message: err.message };
  }
  return { code: null, message: String(err) };
}

class Runner {
  constructor(scenario, Centrifuge) {
    this.s = scenario;
    this.Centrifuge = Centrifuge;
    this.timeoutMs = scenario.timeoutMs ?? 10000;
    this.events = [];
    this.results = [];
    this.clients = {};
    this.waiters = new Set();
  }

  record(client, event, fields) {
    this.events.push({ client, event, ...fields });
    for (const w of [...this.waiters]) {
      w();
    }
  }

  count(client, event, channel) {
    return this.events.filter(
      (e) => e.client === client && e.event === event && (channel === undefined || e.channel === channel),
    ).length;
  }

  until(predicate, what) {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (predicate()) {
          this.waiters.delete(check);
          clearTimeout(timer);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out after ${this.timeoutMs}ms waiting for ${what}`));
      }, this.timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  client(name) {
    if (this.clients[name]) {
      return this.clients[name];
    }
    const spec = this.s.clients?.[name] ?? {};
    const transports = (spec.transports ?? ['http_stream']).map((t) => ({
      transport: t,
      endpoint: this.s.base + ENDPOINTS[t],
    }));
    const options = {
      eventsource: EventSource,
      emulationEndpoint: (this.s.emulationBase ?? this.s.base) + '/emulation',
      minReconnectDelay: 100,
      maxReconnectDelay: 500,
      timeout: this.timeoutMs,
    };
    if (spec.token !== undefined) {
      options.token = spec.token;
    }
    if (spec.protocol === 'protobuf') {
      options.protocol = 'protobuf';
    }
    const c = new this.Centrifuge(transports, options);
    c.on('connecting', (ctx) => this.record(name, 'connecting', { code: ctx.code, reason: ctx.reason }));
    c.on('connected', (ctx) => this.record(name, 'connected', { clientId: ctx.client, transport: ctx.transport }));
    c.on('disconnected', (ctx) => this.record(name, 'disconnected', { code: ctx.code, reason: ctx.reason }));
    c.on('publication', (ctx) => this.record(name, 'server_publication', { channel: ctx.channel, ...publication(ctx) }));
    this.clients[name] = c;
    return c;
  }

  subscription(name, channel) {
    const c = this.client(name);
    const existing = c.getSubscription(channel);
    if (existing) {
      return existing;
    }
    const sub = c.newSubscription(channel);
    sub.on('subscribing', (ctx) => this.record(name, 'subscribing', { channel, code: ctx.code }));
    sub.on('subscribed', (ctx) => this.record(name, 'subscribed', {
      channel, recoverable: ctx.recoverable, wasRecovering: ctx.wasRecovering, recovered: ctx.recovered,
      streamPosition: ctx.streamPosition ? { offset: Number(ctx.streamPosition.offset), epoch: ctx.streamPosition.epoch } : null,
    }));
    sub.on('unsubscribed', (ctx) => this.record(name, 'unsubscribed', { channel, code: ctx.code, reason: ctx.reason }));
    sub.on('publication', (ctx) => this.record(name, 'publication', { channel, ...publication(ctx) }));
    return sub;
  }

  payload(name, data) {
    if ((this.s.clients?.[name] ?? {}).protocol === 'protobuf') {
      return encoder.encode(typeof data === 'string' ? data : JSON.stringify(data));
    }
    return data;
  }

  async step(st) {
    const name = st.client;
    const c = name !== undefined ? this.client(name) : null;
    switch (st.op) {
      case 'connect': {
        const before = this.count(name, 'connected') + this.count(name, 'disconnected');
        c.connect();
        await this.until(() => this.count(name, 'connected') + this.count(name, 'disconnected') > before, `${name} connected`);
        return { state: c.state };
      }
      case 'disconnect':
        c.disconnect();
        return { state: c.state };
      case 'subscribe': {
        const sub = this.subscription(name, st.channel);
        const done = () => this.count(name, 'subscribed', st.channel) + this.count(name, 'unsubscribed', st.channel);
        const before = done();
        sub.subscribe();
        await this.until(() => done() > before, `${name} subscribed on ${st.channel}`);
        return { state: sub.state };
      }
      case 'publish':
        return (await c.publish(st.channel, this.payload(name, st.data))) ?? {};
      case 'presence': {
        const res = await c.presence(st.channel);
        return { clients: Object.fromEntries(Object.entries(res.clients).map(([k, v]) => [k, info(v)])) };
      }
      case 'presenceStats': {
        const res = await c.presenceStats(st.channel);
        return { numClients: res.numClients, numUsers: res.numUsers };
      }
      case 'history': {
        const res = await c.history(st.channel, { limit: st.limit, reverse: Boolean(st.reverse) });
        return { publications: res.publications.map(publication), offset: Number(res.offset), epoch: res.epoch };
      }
      case 'wait': {
        const n = st.count ?? 1;
        await this.until(() => this.count(name, st.event, st.channel) >= n, `${n} x ${st.event} for ${name}`);
        return { count: this.count(name, st.event, st.channel) };
      }
      case 'sleep':
        await new Promise((r) => setTimeout(r, st.ms));
        return {};
      default:
        throw new Error(`unknown op ${JSON.stringify(st.op)}`);
    }
  }

  async run() {
    let failure = null;
    for (const st of this.s.steps) {
      try {
        this.results.push({ op: st.op, result: await this.step(st) });
      } catch (err) {
        this.results.push({ op: st.op, error: errorOf(err) });
        failure = `step ${this.results.length - 1} (${st.op}): ${JSON.stringify(errorOf(err))}`;
        break;
      }
    }
    for (const c of Object.values(this.clients)) {
      c.disconnect();
    }
    return { ok: failure === null, failure, events: this.events, results: this.results };
  }
}

async function main() {
  const raw = process.argv[2] !== undefined ? process.argv[2] : readFileSync(0, 'utf8');
  const scenario = JSON.parse(raw);
  const pb = Object.values(scenario.clients ?? {}).some((c) => c.protocol === 'protobuf');
  const mod = pb ? await import('centrifuge/build/protobuf') : await import('centrifuge');
  const report = await new Runner(scenario, mod.Centrifuge).run();
  process.stdout.write(JSON.stringify(report) + '\n');
  process.exit(0);
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ ok: false, failure: String(err?.stack ?? err), events: [], results: [] }) + '\n');
  process.exit(1);
});
