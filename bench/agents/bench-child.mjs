// Benchmark subagent. task.mode selects what it does after its first tool call ('ping'):
//   'return'  - returns at once (spawn -> first tool call latency)
//   'cpu'     - returns its own CPU time so far (process.cpuUsage(): the start-up's CPU)
//   'calls' / 'fetch' - task.n more tool calls, or task.n GETs of task.url through the gateway,
//               then a last 'ping' marking the end (per-operation cost in the parent)
//   'hold'    - stays idle until terminated (memory per idle subagent, concurrency)
//   'violate' - calls a denied tool right away (violation -> kill latency)
//   'heap' / 'buffer' / 'buffer-burst' - grows memory until killed (quota precision)
//   'sleep' / 'spin' - never finishes, idle or burning CPU (timeout precision)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export default async function benchChild(task, ctx) {
  await ctx.tools.call('ping', { mode: task.mode });
  switch (task.mode) {
    case 'return':
      return 1;
    case 'cpu':
      return process.cpuUsage();
    case 'calls':
      for (let i = 0; i < task.n; i++) await ctx.tools.call('ping', { mode: 'call' });
      await ctx.tools.call('ping', { mode: 'end' });
      return task.n;
    case 'fetch':
      for (let i = 0; i < task.n; i++) {
        const res = await fetch(task.url);
        await res.arrayBuffer();
      }
      await ctx.tools.call('ping', { mode: 'end' });
      return task.n;
    case 'violate':
      await ctx.tools.call('exec', { command: 'true' });
      return 'not terminated';
    case 'heap': {
      const keep = [];
      // Small objects on the V8 heap, ~8 MB per step, with a yield so monitors get a turn.
      for (let i = 0; i < 100_000; i++) {
        const chunk = new Array(262_144);
        for (let j = 0; j < chunk.length; j++) chunk[j] = { j };
        keep.push(chunk);
        await sleep(1);
      }
      return keep.length;
    }
    case 'buffer': {
      const keep = [];
      for (let i = 0; i < 100_000; i++) {
        keep.push(Buffer.alloc(8 * 1024 * 1024, 1));
        await sleep(2);
      }
      return keep.length;
    }
    case 'buffer-burst': {
      // Off-heap and without yielding: 16 GB requested in 64 MB steps, as fast as the kernel allows.
      const keep = [];
      for (let i = 0; i < 256; i++) keep.push(Buffer.alloc(64 * 1024 * 1024, 1));
      return keep.length;
    }
    case 'spin':
      for (;;);
    case 'sleep':
    case 'hold':
    default:
      await sleep(2 ** 31 - 1);
      return 'woke';
  }
}
