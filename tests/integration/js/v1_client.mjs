// A centrifuge-js 2.8.3 client (client protocol v1) and a centrifuge-js 5.x client
// (protocol v2) in one channel: both subscribe, each publishes once, both must receive both
// publications; the 2.8.3 client then asks for presence, presence stats and history.
//
// Usage: node v1_client.mjs < input.json
// Input:  {"url": "ws://…/connection/websocket", "channel": "…", "format": "json"|"protobuf",
//          "oldToken": "…", "newToken": "…", "timeoutMs": 10000}
// Output (last stdout line, JSON): {"ok": true, "old": {...}, "new": {...}} or
//          {"ok": false, "failure": "…", ...} with exit code 1.

import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { Centrifuge } from 'centrifuge';
import Centrifuge2Json from 'centrifuge2';
import Centrifuge2Protobuf from 'centrifuge2/dist/centrifuge.protobuf.js';

const input = JSON.parse(readFileSync(0, 'utf8'));
const report = { ok: false, old: { publications: [] }, new: { publications: [] } };

function finish(ok, failure) {
  report.ok = ok;
  if (failure) report.failure = String(failure);
  console.log(JSON.stringify(report));
  process.exit(ok ? 0 : 1);
}

setTimeout(() => finish(false, `timed out after ${input.timeoutMs} ms`), input.timeoutMs);

function waitFor(predicate) {
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (predicate()) {
        clearInterval(timer);
        resolve();
      }
    }, 10);
  });
}

const info = (i) => (i ? { user: i.user, client: i.client } : null);
const protobuf = input.format === 'protobuf';
// protobuf mode of 2.x carries payloads as bytes (JSON text here)
const pack = (obj) => (protobuf ? new TextEncoder().encode(JSON.stringify(obj)) : obj);
const unpack = (data) => (protobuf ? JSON.parse(new TextDecoder().decode(data)) : data);

// -- the 2.8.3 client (protocol v1) -----------------------------------------------------
const OldCentrifuge = protobuf ? Centrifuge2Protobuf : Centrifuge2Json;
const oldUrl = protobuf ? `${input.url}?format=protobuf` : input.url;
const old = new OldCentrifuge(oldUrl, { websocket: WebSocket });
old.setToken(input.oldToken);
let oldSubscribed = false;
old.on('connect', (ctx) => {
  report.old.client = ctx.client;
  report.old.transport = ctx.transport;
});
old.on('disconnect', (ctx) => {
  report.old.disconnect = { reason: ctx.reason, reconnect: ctx.reconnect };
});
const oldSub = old.subscribe(input.channel, {
  publish: (ctx) => report.old.publications.push({ data: unpack(ctx.data), info: info(ctx.info) }),
  subscribe: () => {
    oldSubscribed = true;
  },
  error: (ctx) => {
    report.old.subscribeError = ctx.error;
  },
});
old.connect();

// -- the 5.x client (protocol v2) -------------------------------------------------------
const neu = new Centrifuge(input.url, { websocket: WebSocket, token: input.newToken });
let newSubscribed = false;
neu.on('connected', (ctx) => {
  report.new.client = ctx.client;
});
const newSub = neu.newSubscription(input.channel);
newSub.on('publication', (ctx) =>
  report.new.publications.push({ data: ctx.data, info: info(ctx.info) })
);
newSub.on('subscribed', () => {
  newSubscribed = true;
});
newSub.subscribe();
neu.connect();

try {
  await waitFor(() => oldSubscribed && newSubscribed);
  report.old.publishResult = await oldSub.publish(pack({ from: 'old' }));
  await waitFor(() => report.new.publications.length === 1);
  await newSub.publish({ from: 'new' });
  await waitFor(() => report.old.publications.length === 2 && report.new.publications.length === 2);
  const presence = await oldSub.presence();
  report.old.presenceClients = Object.keys(presence.presence).sort();
  const stats = await oldSub.presenceStats();
  report.old.presenceStats = { numClients: stats.num_clients, numUsers: stats.num_users };
  const history = await oldSub.history({ limit: 10 });
  report.old.history = history.publications.map((p) => unpack(p.data));
  const ping = await old.ping();
  report.old.ping = ping ?? null;
  old.disconnect();
  neu.disconnect();
  finish(true);
} catch (err) {
  finish(false, err && err.message ? err.message : JSON.stringify(err));
}
