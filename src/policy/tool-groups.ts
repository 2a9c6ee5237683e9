/**
 * Tool groups and aliases, following OpenClaw's names so an existing OpenClaw tool policy means the
 * same thing here. Names are matched case-insensitively (everything is lower-cased first).
 */
export const TOOL_GROUPS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  'group:fs': ['read', 'write', 'edit', 'apply_patch'],
  'group:runtime': ['exec', 'process', 'code_execution'],
  'group:web': ['web_search', 'web_fetch'],
  'group:sessions': [
    'sessions_list',
    'sessions_history',
    'sessions_send',
    'sessions_spawn',
    'session_status',
  ],
  'group:memory': ['memory_search', 'memory_get'],
  'group:ui': ['browser', 'canvas'],
  'group:automation': ['cron', 'gateway'],
  'group:messaging': ['message'],
  'group:nodes': ['nodes'],
});

/** Alternative names that mean the same tool (`bash` is `exec`). */
export const TOOL_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  bash: 'exec',
});
