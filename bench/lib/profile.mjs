// Summary of a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self time,
// and self time by file, so a report can say exactly what is hot.
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

function shortUrl(url, root) {
  if (url === '') return '(native)';
  const path = url.startsWith('file://') ? url.slice('file://'.length) : url;
  return path.startsWith(root) ? relative(root, path) : path;
}

/**
 * @param {string} file path of a .cpuprofile
 * @param {string} root paths under it are printed relative
 * @returns {{ totalMs: number, top: Array<{ fn: string, where: string, selfMs: number, pct: number }>, byFile: Array<{ file: string, selfMs: number, pct: number }> }}
 */
export function summarizeProfile(file, root, topN = 25) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i];
    self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
  }
  let total = 0;
  const fns = new Map();
  const files = new Map();
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (n === undefined) continue;
    const cf = n.callFrame;
    if (cf.functionName === '(idle)' || cf.functionName === '(program)') continue;
    total += us;
    const where = `${shortUrl(cf.url, root)}:${cf.lineNumber + 1}`;
    const key = `${cf.functionName || '(anonymous)'} ${where}`;
    const f = fns.get(key) ?? { fn: cf.functionName || '(anonymous)', where, selfMs: 0 };
    f.selfMs += us / 1000;
    fns.set(key, f);
    const fk = shortUrl(cf.url, root);
    files.set(fk, (files.get(fk) ?? 0) + us / 1000);
  }
  const totalMs = total / 1000;
  const pct = (ms) => Math.round((ms / totalMs) * 1000) / 10;
  return {
    totalMs,
    top: [...fns.values()]
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, topN)
      .map((f) => ({ ...f, selfMs: Math.round(f.selfMs), pct: pct(f.selfMs) })),
    byFile: [...files.entries()]
      .map(([f, ms]) => ({ file: f, selfMs: Math.round(ms), pct: pct(ms) }))
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, topN),
  };
}

/** The newest .cpuprofile in `dir`, or null. */
export function newestProfile(dir) {
  try {
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .sort();
    return files.length > 0 ? join(dir, files[files.length - 1]) : null;
  } catch {
    return null;
  }
}
