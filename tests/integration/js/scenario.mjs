// Runs one scenario with centrifuge-js (npm `centrifuge`) against a live server and
// prints a JSON report on stdout, so the Python tests can assert exact codes and order.
//
// Usage: node scenario.mjs '<json>'   or   node scenario.mjs < scenario.json
//
// Scenario:
//   {
//     "url": "ws://127.0.0.1:8000/connection/websocket",
//     "timeoutMs": 10000,                    // per waiting step
//     "clients": {"a": {"token": "...", "protocol": "json" | "protobuf", "name": "..."}},
//     "steps": [
//       {"op": "connect", "client": "a"},                        // waits for connected/disconnected
//       {"op": "subscribe", "client": "a", "channel": "ch", "token": "...", "wait": true},
//       {"op": "publish", "client": "a", "channel": "ch", "data": {...}},
//       {"op": "presence", "client": "a", "channel": "ch"},
//       {"op": "presenceStats", "client": "a", "channel": "ch"},
//       {"op": "history", "client": "a", "channel": "ch", "limit": 10, "since": null, "reverse": false},
//       {"op": "wait", "client": "a", "event": "publication", "channel": "ch", "count": 3},
//       {"op": "disconnect", "client": "a"},
//       {"op": "sleep", "ms": 100}
//     ]
//   }
//
// Report: {"ok": bool, "events": [{"client", "event", "channel"?, ...}], "results": [...],
//          "failure": "..."?}. `results[i]` is the outcome of `steps[i]`:
//          {"op", "result"} or {"op", "error": {"code", "message"}}.
// Binary payloads (protobuf protocol) are reported as UTF-8 text.

import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

function readScenario() {
  const raw = process.argv[2] !== undefined ? process.argv[2] : readFileSync(0, 'utf8');
  return JSON.parse(raw);
}

function plainData(data) {
  if (data instanceof Uint8Array) {
    return decoder.decode(data);
  }
  return data === undefined ? null : data;
}

function plainInfo(info) {
  if (!info) {
    return null;
  }
  return {
    client: info.client,
    user: info.user,
    connInfo: plainData(info.connInfo),
    chanInfo: plainData(info.chanInfo),
  };
}

function plainPublication(ctx) {
  const out = { data: plainData(ctx.data) };
  if (ctx.offset !== undefined) {
    out.offset = Number(ctx.offset);
  }
  if (ctx.info) {
    out.info = plainInfo(ctx.info);
  }
  return out;
}

function plainError(err) {
  if (err && typeof err === 'object' && 'code' in err) {
    return { code: err.code, message: err.message, temporary: Boolean(err.temporary) };
  }
  return { code: null, message: String(err) };
}

function plainPosition(pos) {
  return pos ? { offset: Number(pos.offset), epoch: pos.epoch } : null;
}

class Runner {
  constructor(scenario, Centrifuge) {
    this.scenario = scenario;
    this.Centrifuge = Centrifuge;
    this.timeoutMs = scenario.timeoutMs ?? 10000;
    this.events = [];
    this.results = [];
    this.clients = {};
    this.waiters = [];
  }

  record(client, event, fields) {
    this.events.push({ client, event, ...fields });
    for (const waiter of this.waiters.slice()) {
      waiter();
    }
  }

  count(client, event, channel) {
    return this.events.filter(
      (e) => e.client === client && e.event === event && (channel === undefined || e.channel === channel),
    ).length;
  }

  waitFor(predicate, what) {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (predicate()) {
          cleanup();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${this.timeoutMs}ms waiting for ${what}`));
      }, this.timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
      };
      this.waiters.push(check);
      check();
    });
  }

  client(name) {
    if (!this.clients[name]) {
      const spec = this.scenario.clients?.[name] ?? {};
      const options = {
        websocket: WebSocket,
        minReconnectDelay: 100,
        maxReconnectDelay: 500,
        timeout: this.timeoutMs,
      };
      if (spec.token !== undefined) {
        options.token = spec.token;
      }
      if (spec.name !== undefined) {
        options.name = spec.name;
      }
      if (spec.protocol === 'protobuf') {
        options.protocol = 'protobuf';
      }
      const c = new this.Centrifuge(this.scenario.url, options);
      c.on('connecting', (ctx) => this.record(name, 'connecting', { code: ctx.code, reason: ctx.reason }));
      c.on('connected', (ctx) => this.record(name, 'connected', { clientId: ctx.client, transport: ctx.transport }));
      c.on('disconnected', (ctx) => this.record(name, 'disconnected', { code: ctx.code, reason: ctx.reason }));
      c.on('error', (ctx) => this.record(name, 'error', { type: ctx.type, error: plainError(ctx.error) }));
      c.on('subscribed', (ctx) => this.record(name, 'server_subscribed', {
        channel: ctx.channel, recoverable: ctx.recoverable, wasRecovering: ctx.wasRecovering,
        recovered: ctx.recovered,
      }));
      c.on('publication', (ctx) => this.record(name, 'server_publication', { channel: ctx.channel, ...plainPublication(ctx) }));
      this.clients[name] = c;
    }
    return this.clients[name];
  }

  subscription(name, step) {
    const c = this.client(name);
    const existing = c.getSubscription(step.channel);
    if (existing) {
      return existing;
    }
    const options = {};
    if (step.token !== undefined) {
      options.token = step.token;
    }
    if (step.joinLeave) {
      options.joinLeave = true;
    }
    if (step.recoverable) {
      options.recoverable = true;
    }
    if (step.positioned) {
      options.positioned = true;
    }
    const sub = c.newSubscription(step.channel, options);
    const channel = step.channel;
    sub.on('subscribing', (ctx) => this.record(name, 'subscribing', { channel, code: ctx.code, reason: ctx.reason }));
    sub.on('subscribed', (ctx) => this.record(name, 'subscribed', {
      channel, recoverable: ctx.recoverable, positioned: ctx.positioned, wasRecovering: ctx.wasRecovering,
      recovered: ctx.recovered, streamPosition: plainPosition(ctx.streamPosition),
    }));
    sub.on('unsubscribed', (ctx) => this.record(name, 'unsubscribed', { channel, code: ctx.code, reason: ctx.reason }));
    sub.on('error', (ctx) => this.record(name, 'sub_error', { channel, type: ctx.type, error: plainError(ctx.error) }));
    sub.on('publication', (ctx) => this.record(name, 'publication', { channel, ...plainPublication(ctx) }));
    sub.on('join', (ctx) => this.record(name, 'join', { channel, info: plainInfo(ctx.info) }));
    sub.on('leave', (ctx) => this.record(name, 'leave', { channel, info: plainInfo(ctx.info) }));
    return sub;
  }

  payload(name, data) {
    const spec = this.scenario.clients?.[name] ?? {};
    if (spec.protocol === 'protobuf') {
      return encoder.encode(typeof data === 'string' ? data : JSON.stringify(data));
    }
    return data;
  }

  async step(step) {
    const name = step.client;
    switch (step.op) {
      case 'connect': {
        const c = this.client(name);
        const before = this.count(name, 'connected') + this.count(name, 'disconnected');
        c.connect();
        await this.waitFor(
          () => this.count(name, 'connected') + this.count(name, 'disconnected') > before,
          `${name} connected or disconnected`,
        );
        return { state: c.state };
      }
      case 'disconnect': {
        const c = this.client(name);
        c.disconnect();
        return { state: c.state };
      }
      case 'subscribe': {
        const sub = this.subscription(name, step);
        const before = this.count(name, 'subscribed', step.channel) + this.count(name, 'unsubscribed', step.channel);
        sub.subscribe();
        if (step.wait !== false) {
          await this.waitFor(
            () => this.count(name, 'subscribed', step.channel) + this.count(name, 'unsubscribed', step.channel) > before,
            `${name} subscribed or unsubscribed on ${step.channel}`,
          );
        }
        return { state: sub.state };
      }
      case 'unsubscribe': {
        const sub = this.client(name).getSubscription(step.channel);
        sub.unsubscribe();
        return { state: sub.state };
      }
      case 'publish': {
        const res = await this.client(name).publish(step.channel, this.payload(name, step.data));
        return res ?? {};
      }
      case 'presence': {
        const res = await this.client(name).presence(step.channel);
        const clients = {};
        for (const [id, info] of Object.entries(res.clients)) {
          clients[id] = plainInfo(info);
        }
        return { clients };
      }
      case 'presenceStats': {
        const res = await this.client(name).presenceStats(step.channel);
        return { numClients: res.numClients, numUsers: res.numUsers };
      }
      case 'history': {
        const opts = {};
        if (step.limit !== undefined) {
          opts.limit = step.limit;
        }
        if (step.since) {
          opts.since = step.since;
        }
        if (step.reverse) {
          opts.reverse = true;
        }
        const res = await this.client(name).history(step.channel, opts);
        return {
          publications: res.publications.map(plainPublication),
          offset: Number(res.offset),
          epoch: res.epoch,
        };
      }
      case 'wait': {
        const count = step.count ?? 1;
        await this.waitFor(
          () => this.count(name, step.event, step.channel) >= count,
          `${count} x ${step.event} for ${name}${step.channel ? ' on ' + step.channel : ''}`,
        );
        return { count: this.count(name, step.event, step.channel) };
      }
      case 'sleep': {
        await new Promise((resolve) => setTimeout(resolve, step.ms));
        return {};
      }
      default:
        throw new Error(`unknown op ${JSON.stringify(step.op)}`);
    }
  }

  async run() {
    let failure = null;
    for (const step of this.scenario.steps) {
      try {
        const result = await this.step(step);
        this.results.push({ op: step.op, result });
      } catch (err) {
        if (err instanceof Error && !('code' in err)) {
          failure = `step ${this.results.length} (${step.op}): ${err.message}`;
          this.results.push({ op: step.op, error: { code: null, message: err.message } });
          break;
        }
        this.results.push({ op: step.op, error: plainError(err) });
        if (!step.expectError) {
          failure = `step ${this.results.length - 1} (${step.op}) failed: ${JSON.stringify(plainError(err))}`;
          break;
        }
      }
    }
    for (const c of Object.values(this.clients)) {
      c.disconnect();
    }
    return { ok: failure === null, failure, events: this.events, results: this.results };
  }
}

async function main() {
  const scenario = readScenario();
  const usesProtobuf = Object.values(scenario.clients ?? {}).some((c) => c.protocol === 'protobuf');
  const mod = usesProtobuf ? await import('centrifuge/build/protobuf') : await import('centrifuge');
  const report = await new Runner(scenario, mod.Centrifuge).run();
  process.stdout.write(JSON.stringify(report) + '\n');
  // Sockets closed by disconnect() may keep the loop alive briefly: exit explicitly.
  process.exit(0);
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ ok: false, failure: String(err?.stack ?? err), events: [], results: [] }) + '\n');
  process.exit(1);
});
