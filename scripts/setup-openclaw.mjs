#!/usr/bin/env node
// Installs the pinned OpenClaw release (tools/openclaw) that tests validate configs against and
// read the tool catalog from, and finds a Node >= 24.16 to run it with (OpenClaw refuses older
// Node). OpenClaw is not a dependency of this package: its install script refuses Node < 24.16,
// so it is installed here with --ignore-scripts, apart from the package's own node_modules.
//
// Writes tools/openclaw/node24.path (the Node 24 binary tests run OpenClaw with).
// Usage: node scripts/setup-openclaw.mjs   (SG_NODE24=/path/to/node skips the npx lookup)
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'tools', 'openclaw');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

function satisfies(version) {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  return (major === 24 && minor >= 16) || (major === 26 && minor >= 1) || major > 26;
}

if (!existsSync(join(dir, 'node_modules', 'openclaw', 'package.json'))) {
  execFileSync(npm, ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd: dir,
    stdio: 'inherit',
  });
}

let node24 = process.env.SG_NODE24 ?? '';
if (!node24 && satisfies(process.version)) node24 = process.execPath;
if (!node24) {
  node24 = execFileSync('npx', ['-y', 'node@24', '-p', 'process.execPath'], { encoding: 'utf8' }).trim();
}
const version = execFileSync(node24, ['--version'], { encoding: 'utf8' }).trim();
if (!satisfies(version)) {
  console.error(`setup-openclaw: ${node24} is ${version}; OpenClaw needs >= 24.16`);
  process.exit(1);
}
writeFileSync(join(dir, 'node24.path'), `${node24}\n`);
const oc = JSON.parse(
  execFileSync(
    node24,
    [
      '-p',
      `JSON.stringify(require(${JSON.stringify(join(dir, 'node_modules', 'openclaw', 'package.json'))}).version)`,
    ],
    { encoding: 'utf8' },
  ),
);
console.log(`setup-openclaw: openclaw ${oc} in tools/openclaw, run with ${node24} (${version})`);
