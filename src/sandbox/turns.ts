/**
 * Creating a process blocks the event loop: `child_process.spawn` forks this process and waits
 * until the child has exec'd, which takes milliseconds that grow with this process's memory and
 * with the machine's load (a burst of starting subagents is such a load). The orchestrator's
 * loop also carries the gateway, the tool broker and every timeout timer, so process creations
 * are taken one per event-loop turn: between two of them the loop runs its due timers and its
 * I/O. A lone spawn is not delayed (it runs at once when no other is waiting).
 */

let tail: Promise<void> = Promise.resolve();

/** Resolves on a later turn of the event loop, after its timers and I/O had their turn. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(resolve, 0);
  });
}

/**
 * Runs `create` (which creates a process, synchronously) once every creation queued before it
 * has run and the event loop has turned since the last one. Resolves or rejects with its result.
 */
export function spawnTurn<T>(create: () => T): Promise<T> {
  const run = tail.then(create);
  tail = run.then(nextTurn, nextTurn);
  return run;
}
