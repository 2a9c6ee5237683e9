/**
 * Child process for the audit durability test: writes audit records to a file, reports on stdout,
 * then idles until the test SIGKILLs it (none of our clean-up code gets to run).
 *   logger FILE        one record through createAuditLogger
 *   orchestrator FILE  an orchestrator (process level) logging to FILE refuses one spawn
 */
import { fileURLToPath } from 'node:url';
import { createAuditLogger } from '../../src/audit/logger.js';
import { parseConfig } from '../../src/config/index.js';
import { createOrchestrator } from '../../src/spawner/index.js';

const [mode, file] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: audit-crash-child logger|orchestrator FILE');
if (mode === 'logger') {
  const { logger } = createAuditLogger({ path: file });
  logger.info({ event: 'tool.decision', decision: 'deny', reason: 'not_allowed' }, 'one refused call');
} else {
  const config = parseConfig(
    {
      audit: { path: file },
      agents: {
        main: { role: 'parent', subagents: { allowAgents: [] } },
        w: { entry: fileURLToPath(import.meta.url) },
      },
    },
    { source: 'audit durability test' },
  );
  const orchestrator = await createOrchestrator({ config, isolation: 'process' });
  try {
    orchestrator.spawn({ parent: 'main', agent: 'w', task: null });
  } catch {
    // Refused (and audited): exactly what this test wants on file.
  }
}
process.stdout.write('logged\n');
setInterval(() => undefined, 60_000);
