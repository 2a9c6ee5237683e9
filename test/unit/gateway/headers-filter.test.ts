import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  foldHeaderName,
  forwardRequestHeaders,
  forwardResponseHeaderBuffers,
  forwardResponseHeaders,
  requestHeaderCounts,
} from '../../../src/gateway/headers.js';

/** The header rules written down as plainly as possible: the fast filter must agree with this. */
function model(raw: readonly string[], upgrade: boolean, response: boolean): string[] {
  const hop = new Set([
    'connection',
    'keep-alive',
    'te',
    'trailer',
    'trailers',
    'transfer-encoding',
    'upgrade',
    'host',
    'expect',
    'http2-settings',
  ]);
  const named = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (foldHeaderName(raw[i] ?? '') !== 'connection') continue;
    for (const t of (raw[i + 1] ?? '').split(',')) {
      const f = foldHeaderName(t.trim());
      if (f !== '') named.add(f);
    }
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const f = foldHeaderName(raw[i] ?? '');
    const keep =
      (upgrade && f === 'upgrade') ||
      (response && (f === 'host' || f === 'expect')) ||
      !(hop.has(f) || f === 'proxy' || f.startsWith('proxy-') || named.has(f));
    if (keep) out.push(raw[i] ?? '', raw[i + 1] ?? '');
  }
  if (upgrade) out.push('Connection', 'Upgrade');
  return out;
}

const NAMES = [
  'Connection',
  'CONNECTION',
  'connection',
  'Keep-Alive',
  'Keep_Alive',
  'TE',
  'Te',
  'Trailer',
  'Trailers',
  'Transfer-Encoding',
  'transfer.encoding',
  'Upgrade',
  'Host',
  'HOST',
  'Ho_t',
  'Expect',
  'HTTP2-Settings',
  'http2_settings',
  'Proxy',
  'Proxy-Authorization',
  'Proxy_Authorization',
  'PROXY.AUTHORIZATION',
  'Proxyx',
  'Prox',
  'P',
  'X-Secret',
  'x_secret',
  'Close',
  'Date',
  'Content-Length',
  'Content-Type',
  'User-Agent',
  'Server',
  'Set-Cookie',
  'Accept',
  'Tea',
  'Hosts',
  'Cache-Control',
  '0',
];
const TOKENS = [
  'close',
  'keep-alive',
  'X-Secret',
  'x_secret',
  'Date',
  'Host',
  'Upgrade',
  'close',
  'proxy-x',
  '',
];

const headerList = fc
  .array(
    fc.tuple(
      fc.constantFrom(...NAMES),
      fc.oneof(
        fc.constantFrom('v', '1', 'chunked'),
        fc.array(fc.constantFrom(...TOKENS), { maxLength: 4 }).map((t) => t.join(', ')),
      ),
    ),
    { maxLength: 12 },
  )
  .map((pairs) => pairs.flat());

void describe('header filter', () => {
  void test('agrees with the plainly written rules for requests, responses and upgrades', () => {
    fc.assert(
      fc.property(headerList, fc.boolean(), (raw, upgrade) => {
        assert.deepEqual(forwardRequestHeaders(raw, { upgrade }), model(raw, upgrade, false));
        assert.deepEqual(forwardResponseHeaders(raw, { upgrade }), model(raw, upgrade, true));
        const buffers = raw.map((v) => Buffer.from(v, 'latin1'));
        assert.deepEqual(forwardResponseHeaderBuffers(buffers), model(raw, false, true));
      }),
      { numRuns: 2000 },
    );
  });

  void test('drops a header literally named Close when Connection says close', () => {
    const raw = ['Connection', 'close', 'Close', 'x', 'Date', 'd'];
    assert.deepEqual(forwardResponseHeaders(raw, { upgrade: false }), ['Date', 'd']);
  });

  void test('keeps latin1 bytes of response header values intact', () => {
    const raw = [Buffer.from('X-Name'), Buffer.from([0x63, 0xe9, 0xff])];
    assert.deepEqual(forwardResponseHeaderBuffers(raw), ['X-Name', 'c\u00e9\u00ff']);
  });
});

void describe('requestHeaderCounts', () => {
  void test('counts Proxy-Authorization by exact name and Host in every spelling, in one pass', () => {
    fc.assert(
      fc.property(headerList, (raw) => {
        let auth = 0;
        let host = 0;
        for (let i = 0; i < raw.length; i += 2) {
          const name = raw[i] ?? '';
          if (name.toLowerCase() === 'proxy-authorization') auth++;
          if (foldHeaderName(name) === 'host') host++;
        }
        assert.deepEqual(requestHeaderCounts(raw), { proxyAuthorization: auth, host });
      }),
      { numRuns: 1000 },
    );
  });
});
