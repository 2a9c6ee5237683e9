// The proxies compared: ours (filtering + audit on), squid, tinyproxy and the `proxy` npm package,
// each configured with an allowlist equivalent to ours (origin 127.0.0.2, the origin's ports only)
// from generated files in a private temp dir, started and stopped by the benchmark itself.
import { writeFileSync, mkdirSync, chmodSync, readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { startProcess, runCommand, freePort, which, sleep } from './procs.mjs';
import { connect } from 'node:net';

const here = dirname(fileURLToPath(import.meta.url));
const servers = join(here, '..', 'servers');
const TARGET = '127.0.0.2';
let auditSeq = 0;

/** Resolves once `host:port` accepts a TCP connection (bounded). */
export async function waitForPort(port, host = '127.0.0.1', timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise((resolve) => {
      const s = connect({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listening on ${host}:${port} after ${timeoutMs} ms`);
}

function firstLine(text) {
  return (
    text
      .split('\n')
      .find((l) => l.trim() !== '')
      ?.trim() ?? ''
  );
}

/** @typedef {{ url: string, authorization?: string, pid: number, stop: () => Promise<Record<string, unknown>> }} Running */

/** The origin server (HTTP + TCP) on 127.0.0.2, in its own process. */
export async function startOrigin() {
  const p = startProcess(process.execPath, [join(servers, 'origin.mjs'), TARGET]);
  const line = await p.lines((l) => l.startsWith('{'), 10_000);
  const { http, tcp } = JSON.parse(line);
  const stats = async () => {
    const r = await fetch(`http://${TARGET}:${http}/__stats`);
    return (await r.json()).connections - 1;
  };
  return { host: TARGET, httpPort: http, tcpPort: tcp, pid: p.pid, stats, stop: () => p.stop() };
}

/** subagent-guard's gateway in its own process. */
export const ours = {
  name: 'subagent-guard',
  async probe() {
    const ok = existsSync(join(here, '..', '..', 'dist', 'gateway', 'index.js'));
    const pkg = JSON.parse(readFileSync(join(here, '..', '..', 'package.json'), 'utf8'));
    return ok ? { ok, version: pkg.version } : { ok, reason: 'dist/gateway not built (npm run build)' };
  },
  /** @returns {Promise<Running>} */
  async start({ ports, dir, nodeArgs = [] }) {
    const audit = join(dir, `subagent-guard-audit-${++auditSeq}.log`);
    const p = startProcess(process.execPath, [
      ...nodeArgs,
      join(servers, 'gateway-server.mjs'),
      JSON.stringify({ ports, audit, target: TARGET }),
    ]);
    const info = JSON.parse(await p.lines((l) => l.startsWith('{"url"'), 15_000));
    return {
      url: info.url,
      authorization: info.authorization,
      pid: p.pid,
      auditPath: audit,
      async stop() {
        const finished = p.lines((l) => l.startsWith('{"stopped"'), 60_000).catch(() => null);
        process.kill(p.pid, 'SIGTERM');
        const line = await finished;
        await p.stop(60_000);
        if (line === null) return {};
        let auditDecisions = 0;
        let auditCloses = 0;
        for (const l of readFileSync(audit, 'utf8').split('\n')) {
          if (l.includes('"egress.decision"')) auditDecisions++;
          else if (l.includes('"egress.close"')) auditCloses++;
        }
        return { auditDecisions, auditCloses };
      },
    };
  },
};

/** The `proxy` npm package: no filtering, no auth, a floor for a Node forward proxy. */
export const proxyPackage = {
  name: 'proxy (npm)',
  async probe() {
    try {
      const require = createRequire(import.meta.url);
      const pkgPath = join(dirname(require.resolve('proxy')), '..', 'package.json');
      return { ok: true, version: JSON.parse(readFileSync(pkgPath, 'utf8')).version };
    } catch {
      return { ok: false, reason: 'the `proxy` package is not installed (npm install --save-dev proxy)' };
    }
  },
  async start({ nodeArgs = [] }) {
    const p = startProcess(process.execPath, [...nodeArgs, join(servers, 'proxy-package.mjs')]);
    const info = JSON.parse(await p.lines((l) => l.startsWith('{"url"'), 10_000));
    return { url: info.url, pid: p.pid, stop: async () => (await p.stop(), {}) };
  },
};

/** Squid, one worker, access log on, no cache, allowlist = origin address + origin ports. */
export const squid = {
  name: 'squid',
  async probe() {
    const bin = (await which('squid')) ?? ((existsSync('/usr/sbin/squid') && '/usr/sbin/squid') || null);
    if (bin === null) return { ok: false, reason: 'squid not installed (apt-get install -y squid)' };
    const v = await runCommand(bin, ['-v'], { timeoutMs: 5000 });
    return { ok: true, bin, version: /Version (\S+)/.exec(v.stdout)?.[1] ?? firstLine(v.stdout) };
  },
  async start({ ports, dir }) {
    const { bin } = await this.probe();
    const d = join(dir, 'squid');
    mkdirSync(d, { recursive: true });
    // squid drops to the `proxy` user when started as root: its files must be writable by it.
    chmodSync(d, 0o777);
    const port = await freePort();
    const conf = join(d, 'squid.conf');
    writeFileSync(
      conf,
      [
        `http_port 127.0.0.1:${port}`,
        'workers 1',
        `pid_filename ${join(d, 'squid.pid')}`,
        `cache_log ${join(d, 'cache.log')}`,
        `access_log stdio:${join(d, 'access.log')}`,
        'cache deny all',
        'cache_mem 0 MB',
        `coredump_dir ${d}`,
        'pinger_enable off',
        'visible_hostname bench.localhost',
        'shutdown_lifetime 0 seconds',
        'dns_nameservers 127.0.0.1',
        'forwarded_for delete',
        'via off',
        'max_filedescriptors 8192',
        'client_persistent_connections on',
        'server_persistent_connections on',
        `acl origin dst ${TARGET}/32`,
        `acl origin_ports port ${ports.join(' ')}`,
        'acl CONNECT method CONNECT',
        'http_access deny !origin',
        'http_access deny !origin_ports',
        'http_access allow localhost',
        'http_access deny all',
        '',
      ].join('\n'),
    );
    const p = startProcess(bin, ['-N', '-f', conf], { cwd: d });
    await waitForPort(port);
    return {
      url: `http://127.0.0.1:${port}`,
      pid: p.pid,
      stop: async () => (await p.stop(5000), {}),
    };
  },
};

/** tinyproxy with `LogLevel Connect` and a default-deny host filter allowing only the origin. */
export const tinyproxy = {
  name: 'tinyproxy',
  async probe() {
    const bin =
      (await which('tinyproxy')) ?? ((existsSync('/usr/bin/tinyproxy') && '/usr/bin/tinyproxy') || null);
    if (bin === null) return { ok: false, reason: 'tinyproxy not installed (apt-get install -y tinyproxy)' };
    const v = await runCommand(bin, ['-v'], { timeoutMs: 5000 });
    return {
      ok: true,
      bin,
      version: /tinyproxy (\S+)/.exec(v.stdout + v.stderr)?.[1] ?? firstLine(v.stdout),
    };
  },
  async start({ ports, dir }) {
    const { bin } = await this.probe();
    const d = join(dir, 'tinyproxy');
    mkdirSync(d, { recursive: true });
    chmodSync(d, 0o777);
    const port = await freePort();
    const filter = join(d, 'filter');
    writeFileSync(filter, `^${TARGET.replaceAll('.', '\\.')}$\n`);
    const conf = join(d, 'tinyproxy.conf');
    writeFileSync(
      conf,
      [
        'User nobody',
        'Group nogroup',
        `Port ${port}`,
        'Listen 127.0.0.1',
        'Timeout 120',
        `LogFile "${join(d, 'tinyproxy.log')}"`,
        'LogLevel Connect',
        `PidFile "${join(d, 'tinyproxy.pid')}"`,
        'MaxClients 512',
        'Allow 127.0.0.1',
        'ViaProxyName "bench"',
        'DisableViaHeader Yes',
        `Filter "${filter}"`,
        'FilterExtended On',
        'FilterDefaultDeny Yes',
        ...ports.map((p) => `ConnectPort ${p}`),
        '',
      ].join('\n'),
    );
    const p = startProcess(bin, ['-d', '-c', conf], { cwd: d });
    await waitForPort(port);
    return {
      url: `http://127.0.0.1:${port}`,
      pid: p.pid,
      stop: async () => (await p.stop(5000), {}),
    };
  },
};

/** Every proxy peer, in the order the report lists them. */
export const PEERS = [ours, squid, tinyproxy, proxyPackage];
