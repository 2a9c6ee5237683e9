// Child-process management for the benchmarks: every process started here is registered and
// killed (whole process group) on exit, on SIGINT/SIGTERM and on an uncaught error, so a failed or
// interrupted run never leaves squid, tinyproxy, origins or gateways behind.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { once } from 'node:events';

const live = new Set();

function killGroup(child, signal) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    // Each child is started detached (its own process group), so this reaches helpers it forked.
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** Kills every process this module started. Synchronous: safe inside an 'exit' handler. */
export function killAll() {
  for (const c of live) killGroup(c, 'SIGKILL');
  live.clear();
}

let hooked = false;
function hookExit() {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}

/**
 * Starts a long-running process in its own process group.
 * @returns {{ child: import('node:child_process').ChildProcess, pid: number, stop: (graceMs?: number) => Promise<void>, lines: (pred: (l: string) => boolean, timeoutMs: number) => Promise<string>, stderrText: () => string }}
 */
export function startProcess(cmd, args, opts = {}) {
  hookExit();
  const child = spawn(cmd, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: opts.env ?? process.env,
    cwd: opts.cwd,
  });
  live.add(child);
  let out = '';
  let err = '';
  const waiters = [];
  const lines = [];
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (d) => {
    out += d;
    let i;
    while ((i = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, i);
      out = out.slice(i + 1);
      lines.push(line);
      for (const w of [...waiters]) if (w.pred(line)) w.resolve(line);
    }
  });
  child.stderr.on('data', (d) => {
    if (err.length < 64 * 1024) err += d;
  });
  const exited = once(child, 'exit').then(() => {
    live.delete(child);
    for (const w of [...waiters])
      w.reject(new Error(`${cmd} exited (${child.exitCode ?? child.signalCode}): ${err.slice(-2000)}`));
  });
  return {
    child,
    pid: child.pid,
    stderrText: () => err,
    lines(pred, timeoutMs) {
      const hit = lines.find(pred);
      if (hit !== undefined) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const w = {
          pred,
          resolve: (l) => {
            clearTimeout(t);
            waiters.splice(waiters.indexOf(w), 1);
            resolve(l);
          },
          reject: (e) => {
            clearTimeout(t);
            waiters.splice(waiters.indexOf(w), 1);
            reject(e);
          },
        };
        const t = setTimeout(
          () => w.reject(new Error(`timeout waiting for output of ${cmd}: ${err.slice(-2000)}`)),
          timeoutMs,
        );
        waiters.push(w);
        if (child.exitCode !== null || child.signalCode !== null)
          w.reject(new Error(`${cmd} already exited: ${err.slice(-2000)}`));
      });
    },
    async stop(graceMs = 2000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      killGroup(child, 'SIGTERM');
      const t = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
      // Helpers in the group (squid's kids) go too.
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // group empty
      }
    },
  };
}

/**
 * Runs a command to completion with a hard time limit.
 * @returns {Promise<{ code: number | null, stdout: string, stderr: string }>}
 */
export function runCommand(cmd, args, { timeoutMs = 60_000, env, cwd } = {}) {
  hookExit();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: env ?? process.env,
      cwd,
    });
    live.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      if (stderr.length < 256 * 1024) stderr += d;
    });
    const t = setTimeout(() => killGroup(child, 'SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(t);
      live.delete(child);
      reject(e);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(t);
      live.delete(child);
      if (signal === 'SIGKILL' && code === null) stderr += `\n[killed after ${timeoutMs} ms]`;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A free TCP port on `host` (bound and released; good enough on an otherwise idle loopback). */
export async function freePort(host = '127.0.0.1') {
  const srv = createServer();
  srv.listen(0, host);
  await once(srv, 'listening');
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

/** True when `cmd` is on PATH (or an absolute path that exists). */
export async function which(cmd) {
  const r = await runCommand('sh', ['-c', `command -v ${cmd}`], { timeoutMs: 5000 });
  return r.code === 0 ? r.stdout.trim() : null;
}

/** Resolves after `ms`. */
export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
