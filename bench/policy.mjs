#!/usr/bin/env node
// Policy engine benchmark: host-ACL decisions/s at 10, 1,000 and 100,000 rules, and address
// classifications/s. Not part of `npm test`. Build first (`npm run build`).
// Usage: node bench/policy.mjs [--json] [--seconds=N]
import { performance } from 'node:perf_hooks';
import { HostAcl, classifyAddress, AddressPolicy, parseHost } from '../dist/policy/index.js';

const args = process.argv.slice(2);
const asJson = args.includes('--json');
const secondsArg = args.find((a) => a.startsWith('--seconds='));
const seconds = secondsArg === undefined ? 0.5 : Number(secondsArg.slice('--seconds='.length));

/** Half exact names, half wildcard rules, spread over many registrable domains. */
function makeRules(n) {
  const rules = [];
  for (let i = 0; i < n; i++) {
    rules.push(i % 2 === 0 ? `api${i}.service${i % 211}.example.com` : `*.tenant${i}.example.net`);
  }
  return rules;
}

/** Queries: exact hits, wildcard hits (1-3 labels deep), misses, and deep misses (8 labels). */
function makeQueries(n, count) {
  const q = [];
  for (let k = 0; k < count; k++) {
    const i = (k * 7919) % n;
    switch (k % 4) {
      case 0: {
        const e = i - (i % 2);
        q.push({ host: `api${e}.service${e % 211}.example.com`, hit: true });
        break;
      }
      case 1: {
        const w = i | 1;
        if (w >= n) q.push({ host: `x.tenant${w}.example.net`, hit: false });
        else q.push({ host: `${'x.'.repeat(1 + (k % 3))}tenant${w}.example.net`, hit: true });
        break;
      }
      case 2:
        q.push({ host: `unknown${k}.example.org`, hit: false });
        break;
      default:
        q.push({ host: `a.b.c.d.e.f.miss${k}.example.net`, hit: false });
    }
  }
  return q;
}

function measure(fn, items) {
  // Warm up so the JIT has optimised the hot path before we time it.
  for (let r = 0; r < 3; r++) for (let i = 0; i < items.length; i++) fn(items[i]);
  let ops = 0;
  let sink = 0;
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  while (performance.now() < deadline) {
    for (let i = 0; i < items.length; i++) if (fn(items[i]) !== null) sink++;
    ops += items.length;
  }
  const elapsed = (performance.now() - start) / 1000;
  return { opsPerSec: Math.round(ops / elapsed), ops, sink };
}

const results = [];
for (const n of [10, 1_000, 100_000]) {
  const t0 = performance.now();
  const acl = new HostAcl(makeRules(n));
  const buildMs = performance.now() - t0;
  const queries = makeQueries(n, 4096);
  for (const q of queries) {
    if ((acl.match(q.host) !== null) !== q.hit) throw new Error(`wrong decision for ${q.host} at ${n} rules`);
  }
  const hosts = queries.map((q) => q.host);
  const r = measure((h) => acl.match(h), hosts);
  results.push({
    name: `host decisions, ${n.toLocaleString('en-US')} rules`,
    rules: n,
    buildMs: Math.round(buildMs),
    ...r,
  });
}

const addresses = [
  '93.184.215.14',
  '10.1.2.3',
  '169.254.169.254',
  '127.0.0.1',
  '8.8.8.8',
  '203.0.113.9',
  '2606:4700:4700::1111',
  '::ffff:127.0.0.1',
  '64:ff9b::a9fe:a9fe',
  'fd00:ec2::254',
  '2001:db8::1',
  'fe80::1',
];
const v4only = addresses.filter((a) => !a.includes(':'));
const v6only = addresses.filter((a) => a.includes(':'));
results.push({ name: 'classifyAddress, IPv4', ...measure((a) => classifyAddress(a), v4only) });
results.push({ name: 'classifyAddress, IPv6', ...measure((a) => classifyAddress(a), v6only) });
const ap = new AddressPolicy({ allowedCidrs: ['10.20.0.0/16', 'fd00::/8'], gatewayAddresses: ['127.0.0.1'] });
results.push({ name: 'AddressPolicy.check, mixed', ...measure((a) => ap.check(a), addresses) });
const rawHosts = [
  'api.example.com',
  'Bücher.example',
  '0x7f.1',
  '[::ffff:127.0.0.1]',
  'a.b.c.cdn.example.net',
];
results.push({ name: 'parseHost, mixed', ...measure((h) => parseHost(h), rawHosts) });

if (asJson) {
  process.stdout.write(`${JSON.stringify({ node: process.version, seconds, results }, null, 2)}\n`);
} else {
  const pad = Math.max(...results.map((r) => r.name.length));
  console.log(`policy benchmark (node ${process.version}, ${seconds}s per row)`);
  for (const r of results) {
    const extra = r.buildMs === undefined ? '' : `   (build ${r.buildMs} ms)`;
    console.log(`${r.name.padEnd(pad)}  ${r.opsPerSec.toLocaleString('en-US').padStart(13)} ops/s${extra}`);
  }
}
