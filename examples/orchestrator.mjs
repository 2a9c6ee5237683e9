#!/usr/bin/env node
// The subagent-guard demo: a main orchestrator that hands untrusted work to security-proxy
// subagents. Everything stays on loopback: a local "untrusted API" on 127.0.0.2 is reachable only
// through an explicit allowed_cidrs exception, under the name api.untrusted.test, which a custom
// resolver maps to that address (no real DNS is ever queried).
//
// Run: npm run demo   (builds, then runs this file). Exit code 0 = every outcome was as expected.
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createOrchestrator, parseConfig } from 'subagent-guard';

const here = dirname(fileURLToPath(import.meta.url));
const API_NAME = 'api.untrusted.test';

/** The "untrusted API": small JSON documents, one of them with a prototype-pollution payload. */
function startApi(host) {
  const server = createServer((req, res) => {
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/items') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        '{"items":[{"sku":"A-1","name":"widget"},{"sku":"B-2","name":"gadget"}],"__proto__":{"admin":true}}',
      );
    } else if (req.url === '/status') send(200, { state: 'ok' });
    else send(404, { error: 'not found' });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve(server));
  });
}

async function startApiOnLoopback() {
  try {
    return { server: await startApi('127.0.0.2'), address: '127.0.0.2' };
  } catch {
    // Some systems (macOS) configure only 127.0.0.1; the CIDR exception follows the address used.
    return { server: await startApi('127.0.0.1'), address: '127.0.0.1' };
  }
}

function buildConfig(apiAddress, apiPort, auditPath) {
  const raw = JSON.parse(readFileSync(join(here, 'demo.openclaw.json'), 'utf8'));
  raw.audit = { path: auditPath };
  for (const name of ['security_proxy_untrusted', 'security_proxy_hostile']) {
    raw.agents[name].network.allowed_ports = [apiPort];
    raw.agents[name].network.allowed_cidrs = [`${apiAddress}/32`];
  }
  return parseConfig(raw, { source: join(here, 'demo.openclaw.json'), baseDir: here });
}

const quoteTool = {
  description: 'Price quote for a SKU (a paid API, metered in the parent)',
  inputSchema: {
    type: 'object',
    properties: { sku: { type: 'string', maxLength: 32 } },
    required: ['sku'],
    additionalProperties: false,
  },
  costUsd: 0.01,
  handler: async (args) => ({ sku: args.sku, priceUsd: 9.99 }),
};

const RUNS = [
  { agent: 'security_proxy_untrusted', attack: '-', expect: { status: 'completed' } },
  // `why`: the gateway's refusal reason an egress row must be refused for (the one its name
  // states: the name for blocked_domain, the metadata address for metadata_ip; never the port).
  ...[
    ['denied_tool', 'tool_denied'],
    ['blocked_domain', 'egress_denied', 'host_not_allowed'],
    ['metadata_ip', 'egress_denied', 'metadata_prohibited'],
    ['file_write', 'sandbox_violation'],
    ['child_process', 'sandbox_violation'],
    ['memory_bomb', 'memory_exceeded'],
    ['infinite_loop', 'timeout'],
    ['spawn_loop', 'spawn_denied'],
  ].map(([attack, reason, why]) => ({
    agent: 'security_proxy_hostile',
    attack,
    expect: { status: 'terminated', reason, why },
  })),
];

/** The gateway's reason in an egress termination's detail: `egress GET h:p refused (reason, HTTP 403)`. */
function whyOf(outcome) {
  if (outcome.status !== 'terminated') return undefined;
  return /refused \(([a-z_]+), HTTP \d+\)/.exec(outcome.detail)?.[1];
}

function table(rows) {
  const head = [
    'agent',
    'attack',
    'status',
    'reason',
    'why',
    'wall ms',
    'tool/api calls',
    'cost $',
    'peak RSS MB',
    'egress',
    'ok',
  ];
  const body = rows.map((r) => [
    r.agent,
    r.attack,
    r.outcome.status,
    r.outcome.status === 'terminated'
      ? r.outcome.reason
      : r.outcome.status === 'failed'
        ? r.outcome.error.code
        : '-',
    whyOf(r.outcome) ?? '-',
    String(r.outcome.usage.wallMs),
    `${r.outcome.usage.toolCalls}/${r.outcome.usage.apiCalls}`,
    r.outcome.usage.costUsd.toFixed(2),
    r.outcome.usage.peakRssMb.toFixed(1),
    `${r.outcome.usage.egressRequests} req ${r.outcome.usage.egressBytesIn + r.outcome.usage.egressBytesOut} B`,
    r.ok ? 'yes' : 'NO',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

async function main() {
  const { server, address } = await startApiOnLoopback();
  const port = server.address().port;
  const auditPath = join(mkdtempSync(join(tmpdir(), 'subagent-guard-demo-')), 'audit.log');
  const config = buildConfig(address, port, auditPath);
  const resolver = async (hostname) => {
    if (hostname === API_NAME) return [{ address, family: 4 }];
    throw Object.assign(new Error(`${hostname} is not resolvable in the demo`), { code: 'ENOTFOUND' });
  };
  const orchestrator = await createOrchestrator({ config, resolver, tools: { quote: quoteTool } });
  console.log(
    `subagent-guard demo — isolation: ${orchestrator.isolation}, gateway: ${orchestrator.gateway.url}`,
  );
  console.log(`untrusted API: http://${API_NAME}:${port} -> ${address} (allowed_cidrs ${address}/32)\n`);
  let rows;
  try {
    rows = await Promise.all(
      RUNS.map(async (r) => {
        const task =
          r.attack === '-' ? { baseUrl: `http://${API_NAME}:${port}` } : { attack: r.attack, port };
        const outcome = await orchestrator.run({ parent: 'main_orchestrator', agent: r.agent, task });
        const ok =
          outcome.status === r.expect.status &&
          (r.expect.reason === undefined || outcome.reason === r.expect.reason) &&
          (r.expect.why === undefined || whyOf(outcome) === r.expect.why);
        return { ...r, outcome, ok };
      }),
    );
  } finally {
    await orchestrator.close();
    server.close();
  }
  console.log(table(rows));
  console.log(
    '\ntool/api calls: tool calls made / units of max_api_calls spent (one per tool call, egress request or tunnel)',
  );
  for (const r of rows.filter((x) => !x.ok)) {
    const o = r.outcome;
    const got =
      o.status === 'terminated'
        ? `${o.reason}: ${o.detail}`
        : o.status === 'failed'
          ? `${o.error.code}: ${o.error.message}`
          : JSON.stringify(o.output);
    console.log(
      `\nUNEXPECTED ${r.agent} ${r.attack}: expected ${r.expect.reason ?? r.expect.status}${r.expect.why === undefined ? '' : ` (${r.expect.why})`}, got ${o.status} (${got})`,
    );
  }
  const benign = rows[0]?.outcome;
  if (benign?.status === 'completed') console.log(`\nbenign output: ${JSON.stringify(benign.output)}`);
  console.log(`audit log: ${auditPath}`);
  const failed = rows.filter((r) => !r.ok).length;
  console.log(
    failed === 0
      ? `all ${rows.length} outcomes as expected`
      : `${failed} of ${rows.length} outcomes NOT as expected`,
  );
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`demo failed: ${err?.stack ?? err}`);
    process.exitCode = 1;
  },
);
