import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../../../src/config/index.js';
import { ConfigError } from '../../../src/errors.js';
import { issuesOf, subagent, validDir } from './helpers.js';

interface Case {
  readonly name: string;
  readonly config: unknown;
  /** The JSON pointer that must be reported. */
  readonly path: string;
  /** What the message must say. */
  readonly message: RegExp;
}

const w = (extra: Record<string, unknown>) => ({ agents: { w: subagent(extra) } });
const net = (network: Record<string, unknown>) =>
  w({ network: { allowed_domains: ['api.example.com'], ...network } });
const quota = (constraints: Record<string, unknown>) => w({ constraints });
const domain = (d: string) => net({ allowed_domains: [d] });
const D0 = '/agents/w/network/allowed_domains/0';

const cases: Case[] = [
  // structure
  { name: 'top level is an array', config: [], path: '', message: /expected a JSON object/ },
  { name: 'top level is a string', config: 'agents', path: '', message: /expected a JSON object/ },
  { name: 'no agents section', config: {}, path: '/agents', message: /required/ },
  {
    name: 'unknown root key, with a suggestion',
    config: { agents: {}, gatway: {} },
    path: '/gatway',
    message: /did you mean "gateway"/,
  },
  { name: 'agents is an array', config: { agents: [] }, path: '/agents', message: /expected an object/ },
  {
    name: 'agent is not an object',
    config: { agents: { w: 5 } },
    path: '/agents/w',
    message: /expected an object/,
  },
  {
    name: 'reserved agent name "list"',
    config: { agents: { list: {} } },
    path: '/agents/list',
    message: /reserved/,
  },
  {
    name: 'agent name with a space',
    config: { agents: { 'bad name': {} } },
    path: '/agents/bad name',
    message: /agent name/,
  },
  {
    name: 'agent name with "/" is escaped in the pointer',
    config: { agents: { 'a/b~c': {} } },
    path: '/agents/a~1b~0c',
    message: /agent name/,
  },
  {
    name: 'unknown role',
    config: { agents: { w: { role: 'child' } } },
    path: '/agents/w/role',
    message: /"parent" or "subagent"/,
  },
  {
    name: 'misspelt agent key',
    config: w({ tool_allowed: ['x'] }),
    path: '/agents/w/tool_allowed',
    message: /did you mean "tools_allowed"/,
  },
  {
    name: 'camelCase quota key',
    config: quota({ maxMemoryMb: 64 }),
    path: '/agents/w/constraints/maxMemoryMb',
    message: /did you mean "max_memory_mb"/,
  },
  {
    name: 'memory note on a subagent',
    config: w({ memory: {} }),
    path: '/agents/w/memory',
    message: /parent agents only/,
  },
  {
    name: 'network on a parent',
    config: { agents: { p: { role: 'parent', network: {} } } },
    path: '/agents/p/network',
    message: /applies to subagents/,
  },
  {
    name: 'tools on a parent',
    config: { agents: { p: { role: 'parent', tools_allowed: [] } } },
    path: '/agents/p/tools_allowed',
    message: /applies to subagents/,
  },
  // spawning
  {
    name: 'allowAgents names an unknown agent',
    config: { agents: { p: { role: 'parent', subagents: { allowAgents: ['nobody'] } } } },
    path: '/agents/p/subagents/allowAgents/0',
    message: /unknown agent "nobody"/,
  },
  {
    name: 'allowAgents names a parent',
    config: { agents: { p: { role: 'parent' }, w: subagent({ subagents: { allowAgents: ['p'] } }) } },
    path: '/agents/w/subagents/allowAgents/0',
    message: /parent agent/,
  },
  {
    name: '"*" mixed with names',
    config: { agents: { p: { role: 'parent', subagents: { allowAgents: ['*', 'w'] } }, w: subagent() } },
    path: '/agents/p/subagents/allowAgents',
    message: /\["\*"\] alone/,
  },
  {
    name: 'maxSpawnDepth 0',
    config: { agents: { p: { role: 'parent', subagents: { maxSpawnDepth: 0 } } } },
    path: '/agents/p/subagents/maxSpawnDepth',
    message: /at least 1/,
  },
  {
    name: 'maxSpawnDepth 11',
    config: { agents: { p: { role: 'parent', subagents: { maxSpawnDepth: 11 } } } },
    path: '/agents/p/subagents/maxSpawnDepth',
    message: /at most 10/,
  },
  {
    name: 'maxConcurrent 0',
    config: { agents: { p: { role: 'parent', subagents: { maxConcurrent: 0 } } } },
    path: '/agents/p/subagents/maxConcurrent',
    message: /at least 1/,
  },
  {
    name: 'maxChildren not an integer',
    config: { agents: { p: { role: 'parent', subagents: { maxChildren: 2.5 } } } },
    path: '/agents/p/subagents/maxChildren',
    message: /integer/,
  },
  // domains
  ...['*', '*.', '*.com', '*.co.uk', 'a.*.b', '*x.com', 'x*.com', '**.example.com'].map((d) => ({
    name: `over-broad or malformed domain pattern ${d}`,
    config: domain(d),
    path: D0,
    message: /"\*"|public suffix|top-level|every host/,
  })),
  { name: 'domain with a port', config: domain('example.com:443'), path: D0, message: /port/ },
  {
    name: 'domain given as a URL',
    config: domain('https://example.com'),
    path: D0,
    message: /URL|scheme|host name/,
  },
  { name: 'domain with userinfo', config: domain('user@example.com'), path: D0, message: /userinfo/ },
  { name: 'domain with a path', config: domain('example.com/api'), path: D0, message: /path/ },
  { name: 'domain with a space', config: domain('exa mple.com'), path: D0, message: /whitespace|host name/ },
  { name: 'empty domain', config: domain(''), path: D0, message: /empty|host name/ },
  {
    name: 'label longer than 63',
    config: domain(`${'a'.repeat(64)}.example`),
    path: D0,
    message: /63|label/,
  },
  { name: 'IPv6 zone id', config: domain('[fe80::1%eth0]'), path: D0, message: /zone|%/ },
  {
    name: 'domain that is not a string',
    config: domain(42 as unknown as string),
    path: D0,
    message: /expected a string/,
  },
  // ports, CIDRs
  ...[0, 65536, -1, 22.5, '22'].flatMap((p) => [
    {
      name: `blocked port ${JSON.stringify(p)}`,
      config: net({ blocked_ports: [p] }),
      path: '/agents/w/network/blocked_ports/0',
      message: /port number from 1 to 65535/,
    },
    {
      name: `allowed port ${JSON.stringify(p)}`,
      config: net({ allowed_ports: [p] }),
      path: '/agents/w/network/allowed_ports/0',
      message: /port number from 1 to 65535/,
    },
  ]),
  {
    name: 'CIDR with host bits set names the network',
    config: net({ allowed_cidrs: ['10.20.1.0/16'] }),
    path: '/agents/w/network/allowed_cidrs/0',
    message: /10\.20\.0\.0\/16/,
  },
  {
    name: 'CIDR prefix too long',
    config: net({ allowed_cidrs: ['10.0.0.0/33'] }),
    path: '/agents/w/network/allowed_cidrs/0',
    message: /CIDR|prefix/,
  },
  ...(['0.0.0.0/0', '10.0.0.0/7', '::/0', 'fc00::/6'] as const).map((cidr) => ({
    name: `over-broad CIDR exception ${cidr}`,
    config: net({ allowed_cidrs: [cidr] }),
    path: '/agents/w/network/allowed_cidrs/0',
    message: /too broad for an exception/,
  })),
  {
    name: 'CIDR that is a name',
    config: net({ allowed_cidrs: ['intranet.example'] }),
    path: '/agents/w/network/allowed_cidrs/0',
    message: /CIDR/,
  },
  {
    name: 'egress_only false',
    config: net({ egress_only: false }),
    path: '/agents/w/network/egress_only',
    message: /listening is never offered/,
  },
  {
    name: 'log_all_traffic not a boolean',
    config: net({ log_all_traffic: 'yes' }),
    path: '/agents/w/network/log_all_traffic',
    message: /true or false/,
  },
  {
    name: 'negative max_egress_bytes',
    config: net({ max_egress_bytes: -1 }),
    path: '/agents/w/network/max_egress_bytes',
    message: /at least 0/,
  },
  // quotas
  {
    name: 'memory below 16 MiB',
    config: quota({ max_memory_mb: 8 }),
    path: '/agents/w/constraints/max_memory_mb',
    message: /at least 16/,
  },
  {
    name: 'memory as a string',
    config: quota({ max_memory_mb: '256' }),
    path: '/agents/w/constraints/max_memory_mb',
    message: /expected an integer|expected a number/,
  },
  {
    name: 'fractional memory',
    config: quota({ max_memory_mb: 1.5 }),
    path: '/agents/w/constraints/max_memory_mb',
    message: /integer/,
  },
  {
    name: 'infinite memory',
    config: quota({ max_memory_mb: Infinity }),
    path: '/agents/w/constraints/max_memory_mb',
    message: /finite/,
  },
  {
    name: 'NaN api calls',
    config: quota({ max_api_calls: NaN }),
    path: '/agents/w/constraints/max_api_calls',
    message: /finite|number/,
  },
  {
    name: 'negative api calls',
    config: quota({ max_api_calls: -1 }),
    path: '/agents/w/constraints/max_api_calls',
    message: /at least 0/,
  },
  {
    name: 'negative cost',
    config: quota({ max_cost_usd: -0.01 }),
    path: '/agents/w/constraints/max_cost_usd',
    message: /at least 0/,
  },
  {
    name: 'zero timeout',
    config: quota({ timeout_seconds: 0 }),
    path: '/agents/w/constraints/timeout_seconds',
    message: /greater than 0/,
  },
  {
    name: 'timeout over a week',
    config: quota({ timeout_seconds: 10_000_000 }),
    path: '/agents/w/constraints/timeout_seconds',
    message: /at most/,
  },
  {
    name: 'no_memory_persistence false',
    config: quota({ no_memory_persistence: false }),
    path: '/agents/w/constraints/no_memory_persistence',
    message: /always discarded/,
  },
  // proxies, entry, tools
  {
    name: 'socks proxy',
    config: w({ proxy: 'socks5://u:p@h:1080' }),
    path: '/agents/w/proxy',
    message: /http:\/\/|https/,
  },
  {
    name: 'proxy that is not a URL',
    config: w({ proxy: 'proxy.example:8080' }),
    path: '/agents/w/proxy',
    message: /not an upstream proxy URL|not a valid URL/,
  },
  {
    name: 'proxy with a path',
    config: w({ proxy: 'http://h:8080/path' }),
    path: '/agents/w/proxy',
    message: /upstream proxy URL|path/,
  },
  {
    name: 'proxy with an invalid port',
    config: w({ proxy: 'http://h:99999' }),
    path: '/agents/w/proxy',
    message: /valid URL/,
  },
  {
    name: 'entry that does not exist',
    config: w({ entry: './nope.mjs' }),
    path: '/agents/w/entry',
    message: /does not exist/,
  },
  {
    name: 'entry that is a directory',
    config: w({ entry: '.' }),
    path: '/agents/w/entry',
    message: /not a file/,
  },
  { name: 'empty entry', config: w({ entry: '' }), path: '/agents/w/entry', message: /must not be empty/ },
  {
    name: 'unknown tool group',
    config: w({ tools_allowed: ['group:nope'] }),
    path: '/agents/w/tools_allowed/0',
    message: /unknown tool group/,
  },
  {
    name: 'tool name with a space',
    config: w({ tools_denied: ['web fetch'] }),
    path: '/agents/w/tools_denied/0',
    message: /may contain only/,
  },
  {
    name: 'empty tool name',
    config: w({ tools_allowed: [''] }),
    path: '/agents/w/tools_allowed/0',
    message: /empty/,
  },
  {
    name: 'tools_allowed not an array',
    config: w({ tools_allowed: 'web_fetch' }),
    path: '/agents/w/tools_allowed',
    message: /expected an array/,
  },
  // gateway, audit
  {
    name: 'gateway listening beyond loopback',
    config: { agents: {}, gateway: { listen: '0.0.0.0:8080' } },
    path: '/gateway/listen',
    message: /loopback only/,
  },
  {
    name: 'gateway port out of range',
    config: { agents: {}, gateway: { listen: '127.0.0.1:70000' } },
    path: '/gateway/listen',
    message: /port/,
  },
  {
    name: 'gateway listen without port',
    config: { agents: {}, gateway: { listen: 'localhost' } },
    path: '/gateway/listen',
    message: /host:port/,
  },
  {
    name: 'gateway upstream with ftp',
    config: { agents: {}, gateway: { upstream: 'ftp://h:21' } },
    path: '/gateway/upstream',
    message: /http/,
  },
  {
    name: 'gateway timeout 0',
    config: { agents: {}, gateway: { connect_timeout_ms: 0 } },
    path: '/gateway/connect_timeout_ms',
    message: /at least 1/,
  },
  {
    name: 'audit level unknown',
    config: { agents: {}, audit: { level: 'verbose' } },
    path: '/audit/level',
    message: /"debug" or "info"/,
  },
];

void describe('security-proxy shape: every mistake is reported at its JSON path', () => {
  for (const c of cases) {
    void test(`rejects ${c.name} at ${c.path === '' ? '/' : c.path}`, () => {
      const issues = issuesOf(c.config);
      const hit = issues.find((i) => i.path === c.path);
      assert.ok(hit, `no issue at ${c.path}; got ${JSON.stringify(issues)}`);
      assert.match(hit.message, c.message);
    });
  }

  void test('collects every problem of a config at once instead of stopping at the first', () => {
    const config = {
      agents: {
        p: { role: 'parent', subagents: { allowAgents: ['ghost'] } },
        w: subagent({
          entry: './missing.mjs',
          constraints: { max_memory_mb: 1, timeout_seconds: -1 },
          network: { allowed_domains: ['*.com', 'ok.example'], blocked_ports: [0], allowed_cidrs: ['bad'] },
          tools_allowed: ['group:nope'],
        }),
      },
      gateway: { listen: '10.0.0.1:80' },
    };
    const paths = issuesOf(config).map((i) => i.path);
    for (const p of [
      '/agents/p/subagents/allowAgents/0',
      '/agents/w/entry',
      '/agents/w/constraints/max_memory_mb',
      '/agents/w/constraints/timeout_seconds',
      '/agents/w/network/allowed_domains/0',
      '/agents/w/network/blocked_ports/0',
      '/agents/w/network/allowed_cidrs/0',
      '/agents/w/tools_allowed/0',
      '/gateway/listen',
    ]) {
      assert.ok(paths.includes(p), `missing ${p} in ${JSON.stringify(paths)}`);
    }
    assert.equal(new Set(paths).size, paths.length, 'one issue per value');
  });

  void test('issues come in document order', () => {
    const paths = issuesOf({
      gateway: { listen: 'x' },
      agents: { a: { role: 'bad' }, b: { entry: '' } },
    }).map((i) => i.path);
    assert.deepEqual(paths, ['/gateway/listen', '/agents/a/role', '/agents/b/entry']);
  });
});

void describe('secrets never appear in errors', () => {
  const secret = 'Sup3r-S3cret-Passw0rd';
  const leaky = [
    w({ proxy: `socks5://user:${secret}@proxy.example:1080` }),
    w({ proxy: `http://user:${secret}@proxy.example:8080/some/path` }),
    w({ proxy: `http://user:${secret}@proxy.example:99999` }),
    w({ proxy: `user:${secret}@proxy.example:8080` }),
    w({ proxy: `ftp://user:${secret}@proxy.example` }),
    domain(`http://user:${secret}@api.example.com`),
    domain(`user:${secret}@api.example.com`),
    { agents: {}, gateway: { upstream: `gopher://user:${secret}@h:70` } },
    { agents: {}, gateway: { upstream: `http://user:${secret}@h:8080?x=1` } },
    // Found in review: '#', '?' and '/' in a password, and a proxy URL pasted as a tool name.
    w({ proxy: `http://user:pa#${secret}@proxy.example:8080` }),
    w({ proxy: `http://user:s?${secret}@proxy.example:8080` }),
    w({ proxy: `http://user:80#${secret}@proxy.example` }),
    w({ proxy: `http://user:p/${secret}@proxy.example:8080` }),
    w({ tools_allowed: [`http://user:${secret}@x.example`] }),
  ];
  for (const [i, config] of leaky.entries()) {
    void test(`a password in a bad URL is redacted (case ${i})`, () => {
      let err: unknown;
      try {
        parseConfig(config, { baseDir: validDir, source: 'secret-test' });
      } catch (e) {
        err = e;
      }
      assert.ok(err instanceof ConfigError);
      assert.ok(err.issues.length > 0);
      const everything = `${err.message}\n${JSON.stringify(err.issues)}\n${String(err.stack)}`;
      assert.ok(!everything.includes(secret), everything);
    });
  }
});

void describe('only plain JSON data crosses the boundary', () => {
  void test('a cycle is an issue, not a stack overflow', () => {
    const agents: Record<string, unknown> = {};
    agents.self = agents;
    assert.ok(issuesOf({ agents }).some((i) => i.path === '/agents/self' && /cycle/.test(i.message)));
  });

  void test('a "__proto__" key is refused (no inherited settings)', () => {
    const value: unknown = JSON.parse('{"agents":{"w":{"__proto__":{"role":"parent"}}}}');
    assert.ok(issuesOf(value).some((i) => i.path === '/agents/w/__proto__'));
  });

  void test('class instances, functions and accessors are refused', () => {
    const getter = Object.defineProperty({}, 'role', { get: () => 'parent', enumerable: true });
    const issues = issuesOf({
      agents: { a: new Map(), b: { description: () => 'x' }, c: getter, d: { description: new Date(0) } },
    });
    const paths = issues.map((i) => i.path);
    assert.ok(paths.includes('/agents/a'));
    assert.ok(paths.includes('/agents/b/description'));
    assert.ok(paths.includes('/agents/c/role'));
    assert.ok(paths.includes('/agents/d/description'));
  });
});
