/**
 * Keeps SIGUSR1 from opening Node's inspector in the orchestrator's process. Node answers SIGUSR1
 * by listening on 127.0.0.1:9229, and anyone who connects can evaluate code in the process; a
 * process-level child can send the signal (same uid, unless it runs as another one) and can open
 * TCP connections. With a JavaScript listener installed, the signal is delivered to it instead
 * (checked on Node 20 and 24).
 *
 * Process-wide by nature (a signal disposition is per process), so this is the one module-level
 * state of the spawner. The listener is never removed: removing the last listener does not give
 * the signal back to the inspector, it restores the default action, which kills the process, so
 * a child could then end every sibling with one signal.
 */
const callbacks = new Set<() => void>();
let installed = false;

function onSigusr1(): void {
  for (const cb of [...callbacks]) {
    try {
      cb();
    } catch {
      // A failing audit write must not turn a refused signal into a crash.
    }
  }
}

/**
 * Installs the process-wide SIGUSR1 listener (once per process) and calls `onSignal` on every
 * SIGUSR1 until the returned function is called (the listener itself stays).
 */
export function guardInspectorSignal(onSignal: () => void): () => void {
  if (!installed && process.platform !== 'win32') {
    process.on('SIGUSR1', onSigusr1);
    installed = true;
  }
  callbacks.add(onSignal);
  return () => {
    callbacks.delete(onSignal);
  };
}
