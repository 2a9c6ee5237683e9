import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { basic, rawExchange } from '../helpers/gateway.js';
import { startBench, type Bench } from '../helpers/gateway-fixture.js';

interface Case {
  name: string;
  /** Raw request; `AUTH` is replaced by the valid Proxy-Authorization line, P by the origin port, T by the trap port. */
  raw: string;
  status: number;
  reason?: string;
}

const A = 'Proxy-Authorization: AUTH\r\n';

const cases: Case[] = [
  // Authentication
  {
    name: 'refuses a request without credentials with 407',
    raw: `GET http://api.allowed.test:P/ HTTP/1.1\r\n\r\n`,
    status: 407,
    reason: 'auth_required',
  },
  {
    name: 'refuses a wrong password with 407',
    raw: `GET http://api.allowed.test:P/ HTTP/1.1\r\nProxy-Authorization: ${basic('sub-1', 'x'.repeat(32))}\r\n\r\n`,
    status: 407,
    reason: 'auth_invalid',
  },
  {
    name: 'refuses an unknown user with 407',
    raw: `GET http://api.allowed.test:P/ HTTP/1.1\r\nProxy-Authorization: ${basic('nobody', 'x')}\r\n\r\n`,
    status: 407,
    reason: 'auth_invalid',
  },
  {
    name: 'refuses a non-Basic scheme with 407',
    raw: `GET http://api.allowed.test:P/ HTTP/1.1\r\nProxy-Authorization: Bearer abc\r\n\r\n`,
    status: 407,
    reason: 'auth_invalid',
  },
  {
    name: 'refuses two Proxy-Authorization headers with 407',
    raw: `GET http://api.allowed.test:P/ HTTP/1.1\r\n${A}${A}\r\n`,
    status: 407,
    reason: 'auth_invalid',
  },
  {
    name: 'refuses CONNECT without credentials with 407',
    raw: `CONNECT api.allowed.test:P HTTP/1.1\r\n\r\n`,
    status: 407,
    reason: 'auth_required',
  },
  // Malformed targets
  {
    name: 'refuses origin-form requests with 400',
    raw: `GET / HTTP/1.1\r\nHost: api.allowed.test\r\n${A}\r\n`,
    status: 400,
    reason: 'bad_request',
  },
  {
    name: 'refuses ftp:// with 400 scheme_not_allowed',
    raw: `GET ftp://api.allowed.test:P/ HTTP/1.1\r\n${A}\r\n`,
    status: 400,
    reason: 'scheme_not_allowed',
  },
  { name: 'refuses file:// with 400', raw: `GET file:///etc/passwd HTTP/1.1\r\n${A}\r\n`, status: 400 },
  {
    name: 'refuses absolute-form https:// (TLS goes through CONNECT) with 400',
    raw: `GET https://api.allowed.test:P/ HTTP/1.1\r\n${A}\r\n`,
    status: 400,
    reason: 'scheme_not_allowed',
  },
  {
    name: 'refuses userinfo in the target with 400',
    raw: `GET http://u@api.allowed.test:P/ HTTP/1.1\r\n${A}\r\n`,
    status: 400,
    reason: 'bad_request',
  },
  {
    name: 'refuses a backslash authority with 400',
    raw: `GET http://api.allowed.test\\@evil.test:P/ HTTP/1.1\r\n${A}\r\n`,
    status: 400,
  },
  {
    name: 'refuses CONNECT without a port with 400',
    raw: `CONNECT api.allowed.test HTTP/1.1\r\n${A}\r\n`,
    status: 400,
    reason: 'bad_request',
  },
  {
    name: 'refuses port 0 with 400',
    raw: `CONNECT api.allowed.test:0 HTTP/1.1\r\n${A}\r\n`,
    status: 400,
    reason: 'bad_request',
  },
  {
    name: 'refuses port 70000 with 400',
    raw: `GET http://api.allowed.test:70000/ HTTP/1.1\r\n${A}\r\n`,
    status: 400,
    reason: 'bad_request',
  },
  {
    name: 'refuses an empty port with 400',
    raw: `GET http://api.allowed.test:/ HTTP/1.1\r\n${A}\r\n`,
    status: 400,
    reason: 'bad_request',
  },
  {
    name: 'refuses an IPv6 zone id with 400',
    raw: `CONNECT [fe80::1%25lo]:P HTTP/1.1\r\n${A}\r\n`,
    status: 400,
  },
  {
    name: 'refuses a Host header naming another host with 421',
    raw: `GET http://api.allowed.test:P/ HTTP/1.1\r\nHost: evil.test\r\n${A}\r\n`,
    status: 421,
    reason: 'host_mismatch',
  },
  {
    name: 'refuses a Host header with another port with 421',
    raw: `GET http://api.allowed.test:P/ HTTP/1.1\r\nHost: api.allowed.test:T\r\n${A}\r\n`,
    status: 421,
    reason: 'host_mismatch',
  },
  {
    name: 'refuses two Host headers with 400',
    raw: `GET http://api.allowed.test:P/ HTTP/1.1\r\nHost: api.allowed.test:P\r\nHost: evil.test\r\n${A}\r\n`,
    status: 400,
    reason: 'bad_request',
  },
  {
    name: 'refuses an unusual Transfer-Encoding with 400',
    raw: `POST http://api.allowed.test:P/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n${A}\r\n0\r\n\r\n`,
    status: 400,
  },
  {
    name: 'refuses obs-fold header continuation with 400',
    raw: `GET http://api.allowed.test:P/ HTTP/1.1\r\nX-A: b\r\n  c\r\n${A}\r\n`,
    status: 400,
  },
  {
    name: 'refuses an HTTP/0.9-style request line with 400',
    raw: `GET http://api.allowed.test:P/\r\n${A}\r\n`,
    status: 400,
  },
  // Ports
  {
    name: 'refuses a blocked port with 403 port_blocked',
    raw: `CONNECT api.allowed.test:22 HTTP/1.1\r\n${A}\r\n`,
    status: 403,
    reason: 'port_blocked',
  },
  {
    name: 'refuses a port not allowed with 403 port_not_allowed',
    raw: `GET http://api.allowed.test:8081/ HTTP/1.1\r\n${A}\r\n`,
    status: 403,
    reason: 'port_not_allowed',
  },
  // Host allowlist (before DNS)
  {
    name: 'refuses a name not allowed with 403 host_not_allowed',
    raw: `GET http://evil.test:P/ HTTP/1.1\r\n${A}\r\n`,
    status: 403,
    reason: 'host_not_allowed',
  },
  {
    name: 'refuses CONNECT to a name not allowed with 403',
    raw: `CONNECT evil.test:P HTTP/1.1\r\n${A}\r\n`,
    status: 403,
    reason: 'host_not_allowed',
  },
  {
    name: 'refuses the bare domain of a wildcard rule',
    raw: `GET http://wild.test:P/ HTTP/1.1\r\n${A}\r\n`,
    status: 403,
    reason: 'host_not_allowed',
  },
  {
    name: 'refuses an allowed name used as a prefix of another domain',
    raw: `GET http://api.allowed.test.evil.test:P/ HTTP/1.1\r\n${A}\r\n`,
    status: 403,
    reason: 'host_not_allowed',
  },
  {
    name: 'refuses an IP literal that is not listed (127.1 = 127.0.0.1)',
    raw: `GET http://127.1:P/ HTTP/1.1\r\n${A}\r\n`,
    status: 403,
    reason: 'host_not_allowed',
  },
  { name: 'refuses [::1] with 403', raw: `CONNECT [::1]:P HTTP/1.1\r\n${A}\r\n`, status: 403 },
  {
    name: 'refuses [::ffff:127.0.0.9] with 403',
    raw: `CONNECT [::ffff:127.0.0.9]:T HTTP/1.1\r\n${A}\r\n`,
    status: 403,
  },
  // Listed literals still go through the address classes
  {
    name: 'refuses a listed loopback literal with 403 address_prohibited',
    raw: `GET http://127.0.0.9:T/ HTTP/1.1\r\n${A}\r\n`,
    status: 403,
    reason: 'address_prohibited',
  },
  {
    name: 'refuses hex 0x7f000009 as 127.0.0.9',
    raw: `GET http://0x7f000009:T/ HTTP/1.1\r\n${A}\r\n`,
    status: 403,
    reason: 'address_prohibited',
  },
  {
    name: 'refuses decimal 2130706441 as 127.0.0.9',
    raw: `CONNECT 2130706441:T HTTP/1.1\r\n${A}\r\n`,
    status: 403,
    reason: 'address_prohibited',
  },
  {
    name: 'refuses octal 0177.0.0.9 as 127.0.0.9',
    raw: `GET http://0177.0.0.9:T/ HTTP/1.1\r\n${A}\r\n`,
    status: 403,
    reason: 'address_prohibited',
  },
  {
    name: 'refuses short form 127.9 as 127.0.0.9',
    raw: `CONNECT 127.9:T HTTP/1.1\r\n${A}\r\n`,
    status: 403,
    reason: 'address_prohibited',
  },
  {
    name: 'refuses CONNECT to 169.254.169.254 with 403 metadata_prohibited',
    raw: `CONNECT 169.254.169.254:80 HTTP/1.1\r\n${A}\r\n`,
    status: 403,
    reason: 'metadata_prohibited',
  },
  {
    name: 'refuses GET to 169.254.169.254 with 403 metadata_prohibited',
    raw: `GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\n${A}\r\n`,
    status: 403,
    reason: 'metadata_prohibited',
  },
  // After DNS
  {
    name: 'refuses a name resolving to a prohibited address',
    raw: `GET http://trap.allowed.test:T/ HTTP/1.1\r\n${A}\r\n`,
    status: 403,
    reason: 'address_prohibited',
  },
  {
    name: 'refuses CONNECT to a name resolving to a prohibited address',
    raw: `CONNECT trap.allowed.test:T HTTP/1.1\r\n${A}\r\n`,
    status: 403,
    reason: 'address_prohibited',
  },
  {
    name: 'refuses a name with one allowed and one prohibited answer',
    raw: `CONNECT mixed.allowed.test:T HTTP/1.1\r\n${A}\r\n`,
    status: 403,
    reason: 'address_prohibited',
  },
  {
    name: 'refuses a name with an IPv4-mapped prohibited answer',
    raw: `GET http://mixed6.allowed.test:T/ HTTP/1.1\r\n${A}\r\n`,
    status: 403,
  },
  {
    name: 'refuses a name resolving to the metadata address',
    raw: `GET http://meta.allowed.test/ HTTP/1.1\r\n${A}\r\n`,
    status: 403,
    reason: 'metadata_prohibited',
  },
  {
    name: "refuses a name resolving to the gateway's own address even inside allowed_cidrs",
    raw: `GET http://gw.allowed.test:P/ HTTP/1.1\r\n${A}\r\n`,
    status: 403,
  },
  {
    name: 'answers 502 dns_error for a zone-id answer',
    raw: `GET http://zone.allowed.test:P/ HTTP/1.1\r\n${A}\r\n`,
    status: 502,
    reason: 'dns_error',
  },
  {
    name: 'answers 502 dns_error when resolution fails',
    raw: `GET http://fail.allowed.test:P/ HTTP/1.1\r\n${A}\r\n`,
    status: 502,
    reason: 'dns_error',
  },
  {
    name: 'answers 504 dns_timeout when resolution hangs',
    raw: `CONNECT slow.allowed.test:P HTTP/1.1\r\n${A}\r\n`,
    status: 504,
    reason: 'dns_timeout',
  },
  // Allowed spellings
  {
    name: 'allows the canonical name with a trailing dot and upper case',
    raw: `GET http://API.Allowed.Test.:P/echo HTTP/1.1\r\n${A}Connection: close\r\n\r\n`,
    status: 200,
  },
  {
    name: 'allows a wildcard subdomain',
    raw: `GET http://www.wild.test:P/echo HTTP/1.1\r\n${A}Connection: close\r\n\r\n`,
    status: 200,
  },
  {
    name: 'allows CONNECT to an allowed name',
    raw: `CONNECT api.allowed.test:P HTTP/1.1\r\nHost: api.allowed.test:P\r\n${A}\r\n`,
    status: 200,
  },
];

const DENIED_NAMES = ['evil.test', 'wild.test', 'api.allowed.test.evil.test'];

void describe('egress gateway SSRF and parsing rules', () => {
  let b: Bench;
  before(async () => {
    b = await startBench();
  });
  after(async () => {
    await b.close();
    assert.equal(b.trapHits(), 0, 'the trap on 127.0.0.9 was reached');
    for (const n of DENIED_NAMES) assert.ok(!b.resolverCalls.includes(n), `${n} was looked up`);
    const text = b.log.lines.join('\n');
    assert.ok(!text.includes(b.password), 'the credential appears in the audit log');
    assert.ok(!text.includes(b.auth.slice(6)), 'the encoded credential appears in the audit log');
  });

  for (const c of cases) {
    void test(c.name, async () => {
      const raw = c.raw
        .replaceAll('AUTH', b.auth)
        .replaceAll(':P', `:${b.originPort}`)
        .replaceAll(':T', `:${b.trapPort}`);
      const r = await rawExchange(b.port, raw, 3000);
      assert.equal(r.status, c.status, `${r.head}\n${r.body}`);
      if (c.status !== 200) {
        assert.match(r.headers['proxy-status'] ?? '', /^subagent-guard; error=[a-z_]+/);
        if (c.reason !== undefined)
          assert.ok(r.headers['proxy-status']?.includes(`details="${c.reason}"`), r.head);
      }
      if (c.status === 407) assert.equal(r.headers['proxy-authenticate'], 'Basic realm="subagent-guard"');
    });
  }

  void test('never queries DNS for a name that is not allowed', async () => {
    const before = b.resolverCalls.length;
    const r = await rawExchange(
      b.port,
      `CONNECT exfil-secret-data.evil.test:443 HTTP/1.1\r\nProxy-Authorization: ${b.auth}\r\n\r\n`,
    );
    assert.equal(r.status, 403);
    assert.equal(b.resolverCalls.length, before);
  });

  void test('reports every policy refusal to onDeny with the reason and no credential', () => {
    const reasons = new Set(b.denies.map((d) => d.reason));
    for (const r of [
      'host_not_allowed',
      'address_prohibited',
      'metadata_prohibited',
      'port_blocked',
      'bad_request',
    ]) {
      assert.ok(reasons.has(r as never), `onDeny never saw ${r}`);
    }
    assert.ok(b.denies.every((d) => d.id === b.id && !d.allow));
    assert.ok(!JSON.stringify(b.denies).includes(b.password));
  });

  void test('audits one egress.decision per request with the documented fields', () => {
    const recs = b.log.records().filter((r) => r.event === 'egress.decision');
    assert.ok(recs.length >= cases.length);
    const denied = recs.find((r) => r.reason === 'address_prohibited' && r.host === 'trap.allowed.test');
    assert.ok(denied);
    assert.equal(denied.decision, 'deny');
    assert.equal(denied.status, 403);
    assert.equal(denied.subagentId, b.id);
    assert.equal(denied.agent, 'untrusted');
    assert.equal(denied.parent, 'main');
    assert.equal(denied.address, '127.0.0.9');
    assert.equal(typeof denied.dnsMs, 'number');
  });
});
