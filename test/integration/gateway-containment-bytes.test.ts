/**
 * What a hostile origin can make the gateway hold or move for a subagent on the plain-HTTP path:
 * chunk extensions that carry volume past the byte cap, 1-byte chunks that cost one write each,
 * and a trickle that never trips an idle timeout.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { createEgressGateway, type EgressGateway } from '../../src/gateway/index.js';
import { basic, collectingLogger, tableResolver } from '../helpers/gateway.js';
import { startHostileOrigin, type HostileOrigin } from '../helpers/gateway-hostile-origin.js';

const ORIGIN = '127.0.0.2';

/** Sends one absolute-form GET through the gateway and reads until the gateway closes (or `ms`). */
function fetchRaw(
  gwPort: number,
  auth: string,
  url: string,
  ms: number,
): Promise<{ raw: Buffer; elapsedMs: number; timedOut: boolean }> {
  const host = new URL(url).host;
  return new Promise((resolve) => {
    const started = performance.now();
    const chunks: Buffer[] = [];
    const socket = connect(gwPort, '127.0.0.1');
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, ms);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ raw: Buffer.concat(chunks), elapsedMs: performance.now() - started, timedOut });
    });
    socket.write(
      `GET ${url} HTTP/1.1\r\nHost: ${host}\r\nProxy-Authorization: ${auth}\r\nConnection: close\r\n\r\n`,
    );
  });
}

/** Decodes a chunked body: the data and how many chunks carried it. */
function dechunk(raw: Buffer): { body: Buffer; chunks: number; complete: boolean } {
  const text = raw.toString('latin1');
  let at = text.indexOf('\r\n\r\n');
  assert.ok(at > 0, `no response head in ${JSON.stringify(text.slice(0, 200))}`);
  assert.match(text.slice(0, at), /transfer-encoding: chunked/i);
  at += 4;
  const parts: Buffer[] = [];
  let chunks = 0;
  for (;;) {
    const eol = text.indexOf('\r\n', at);
    if (eol < 0) return { body: Buffer.concat(parts), chunks, complete: false };
    const size = parseInt(text.slice(at, eol), 16);
    if (size === 0) return { body: Buffer.concat(parts), chunks, complete: true };
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    chunks++;
    at = eol + 2 + size + 2;
  }
}

void describe('gateway: what a hostile origin costs on the plain-HTTP path', () => {
  let origin: HostileOrigin;
  let gw: EgressGateway;
  let log: ReturnType<typeof collectingLogger>;
  const limits: string[] = [];
  let auth = '';
  let capAuth = '';
  const base = (): string => `http://api.allowed.test:${origin.port}`;

  before(async () => {
    origin = await startHostileOrigin(ORIGIN);
    log = collectingLogger();
    gw = await createEgressGateway({
      resolver: tableResolver({ 'api.allowed.test': [ORIGIN] }).resolver,
      logger: log.logger,
      exchangeTimeoutMs: 1500,
      idleTimeoutMs: 20_000,
    });
    const network = {
      allowed_domains: ['api.allowed.test'],
      allowed_ports: [origin.port],
      allowed_cidrs: [`${ORIGIN}/32`],
    };
    const c = gw.register({ id: 'plain', network });
    auth = basic(c.username, c.password);
    const capped = gw.register({
      id: 'capped',
      network: { ...network, max_egress_bytes: 64 * 1024 },
      onLimit: (kind) => limits.push(kind),
    });
    capAuth = basic(capped.username, capped.password);
  });
  after(async () => {
    await gw.close();
    await origin.close();
  });

  void test('counts chunk-extension bytes against max_egress_bytes and cuts the exchange at the cap', async () => {
    const mib4 = 4 * 1024 * 1024;
    const r = await fetchRaw(gw.address.port, capAuth, `${base()}/ext?bytes=${mib4}`, 10_000);
    assert.equal(r.timedOut, false, 'the gateway ended the exchange');
    const u = gw.usage('capped');
    assert.deepEqual(limits, ['egress_bytes'], `onLimit fired once; usage ${JSON.stringify(u)}`);
    assert.ok(u.bytesIn <= 64 * 1024, `bytesIn ${u.bytesIn} stays within the cap`);
    assert.ok(u.bytesIn > 32 * 1024, `bytesIn ${u.bytesIn} counts the extension bytes it read`);
    // Cut before or after its head reached the client, never completed.
    assert.ok(r.raw.length === 0 || !dechunk(r.raw).complete, 'the response was cut, not completed');
    const close = log.records().find((x) => x['event'] === 'egress.close' && x['subagentId'] === 'capped');
    assert.equal(close?.['end'], 'egress_bytes_exceeded');
    assert.ok(Number(close['bytesIn']) <= 64 * 1024, 'the close record counts what passed the cap');
    // A later request is refused before it reaches the origin.
    const again = await fetchRaw(gw.address.port, capAuth, `${base()}/ones?n=1`, 5000);
    assert.match(again.raw.toString('latin1'), /^HTTP\/1\.1 429 /);
  });

  void test('gathers an origin’s 1-byte chunks into a few writes to the client', async () => {
    const n = 30_000;
    const r = await fetchRaw(gw.address.port, auth, `${base()}/ones?n=${n}`, 15_000);
    assert.equal(r.timedOut, false);
    const d = dechunk(r.raw);
    assert.ok(d.complete, 'the response is complete');
    assert.equal(d.body.length, n);
    assert.ok(d.body.every((b) => b === 0x61));
    // One client chunk per origin chunk would be 30,000 (each pause for the chunk rate flushes
    // what was gathered, so a few more writes than 30,000 / 16 KiB-worth).
    assert.ok(d.chunks <= 1000, `${d.chunks} chunks reached the client`);
    const close = log.records().find((x) => x['event'] === 'egress.close' && x['subagentId'] === 'plain');
    assert.ok(
      Number(close?.['bytesIn']) >= n * 6,
      `egress.close counts wire bytes: ${String(close?.['bytesIn'])}`,
    );
    // Past its chunk rate the exchange pauses, and undici gives back (unshift) what it has not
    // parsed; those bytes are read again but must count once (they once counted on every re-read,
    // ending benign subagents with egress_bytes_exceeded).
    const wire = n * 6 + '0\r\n\r\n'.length;
    assert.ok(
      Number(close?.['bytesIn']) <= wire + 1024,
      `each wire byte counts once: ${String(close?.['bytesIn'])}`,
    );
    assert.ok(
      gw.usage('plain').bytesIn <= wire + 1024,
      `usage counts each wire byte once: ${gw.usage('plain').bytesIn}`,
    );
  });

  void test('cuts an exchange at exchangeTimeoutMs although its origin keeps trickling bytes', async () => {
    const r = await fetchRaw(gw.address.port, auth, `${base()}/drip`, 8000);
    assert.equal(r.timedOut, false, `still open after ${Math.round(r.elapsedMs)} ms`);
    assert.ok(r.elapsedMs >= 1400 && r.elapsedMs < 5000, `cut after ${Math.round(r.elapsedMs)} ms`);
    const closes = log.records().filter((x) => x['event'] === 'egress.close' && x['end'] === 'deadline');
    assert.equal(closes.length, 1, 'one close record says the deadline ended it');
  });
  void test('a revoke while an exchange is paused mid-body cuts it without throwing in the host process', async () => {
    const network = {
      allowed_domains: ['api.allowed.test'],
      allowed_ports: [origin.port],
      allowed_cidrs: [`${ORIGIN}/32`],
    };
    const c = gw.register({ id: 'paused', network });
    const thrown: unknown[] = [];
    const onUncaught = (err: unknown): void => {
      thrown.push(err);
    };
    process.on('uncaughtException', onUncaught);
    try {
      // 200,000 1-byte chunks: past the chunk rate's burst the exchange pauses its target read.
      const pending = fetchRaw(
        gw.address.port,
        basic(c.username, c.password),
        `${base()}/ones?n=200000`,
        10_000,
      );
      await new Promise((r) => setTimeout(r, 1500));
      // Revoke destroys the target connection; undici once asserted on its paused parser here,
      // throwing from a socket 'close' listener, i.e. crashing the host.
      gw.revoke('paused');
      const r = await pending;
      assert.equal(r.timedOut, false, 'the client connection was cut by the revoke');
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(thrown.map(String), [], 'nothing was thrown in the host process');
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
