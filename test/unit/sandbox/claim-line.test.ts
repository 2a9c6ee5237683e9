import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { SpawnerError } from '../../../src/errors.js';
import { claimLine, parkShim, shQuote } from '../../../src/sandbox/command.js';

/** What a POSIX shell makes of `line`: the argv it would exec, one per line (printf instead of exec). */
function argvOf(line: string): string[] {
  const probe = line.replace(/; exec /, '; exec /usr/bin/printf "%s\\n" ').replace(/ <\/dev\/null$/, '');
  return execFileSync('/bin/sh', ['-c', probe], { encoding: 'utf8', timeout: 10_000 })
    .split('\n')
    .slice(0, -1);
}

void describe('parked launcher claim line', () => {
  const awkward = [
    "it's",
    '$HOME',
    '`id`',
    '$(id)',
    'a b\tc',
    '"quoted"',
    '\\',
    "''",
    '*',
    '-n',
    ';exit 3',
    'é',
  ];
  void test('every argument reaches exec byte for byte, never expanded', () => {
    assert.deepEqual(argvOf(claimLine('/', '/h', ['/bin/true', ...awkward])), ['/bin/true', ...awkward]);
  });

  void test('single quotes are escaped the POSIX way', () => {
    assert.equal(shQuote("a'b"), "'a'\\''b'");
    assert.equal(shQuote(''), "''");
  });

  void test('the line changes directory, sets HOME and TMPDIR, and takes stdin from /dev/null', () => {
    const line = claimLine("/tmp/x'y", '/scratch', ['/bin/true']);
    assert.equal(
      line,
      "cd -- '/tmp/x'\\''y' || exit 72; unset OLDPWD PWD; export HOME='/scratch' TMPDIR='/scratch'; exec '/bin/true' </dev/null",
    );
  });

  const refused: [string, string, string, string[]][] = [
    ['a newline in an argument', '/', '/h', ['/bin/echo', 'a\nb']],
    ['a NUL in an argument', '/', '/h', ['/bin/echo', 'a\0b']],
    ['a newline in the directory', '/tmp/a\nb', '/h', ['/bin/true']],
    ['a newline in HOME', '/', '/h\n', ['/bin/true']],
    ['an empty command', '/', '/h', []],
  ];
  for (const [name, cwd, home, argv] of refused) {
    void test(`refuses ${name} with SG_SANDBOX_LAUNCH`, () => {
      assert.throws(
        () => claimLine(cwd, home, argv),
        (err: unknown) => err instanceof SpawnerError && err.code === 'SG_SANDBOX_LAUNCH',
      );
    });
  }

  void test("the exec'd program gets exactly the parked environment plus HOME and TMPDIR", () => {
    const line = claimLine('/tmp', '/scratch', ['/usr/bin/env']);
    const out = execFileSync('/bin/sh', ['-c', line], {
      encoding: 'utf8',
      env: { PATH: '/usr/bin:/bin' },
      timeout: 10_000,
    });
    assert.deepEqual(out.split('\n').filter(Boolean).sort(), [
      'HOME=/scratch',
      'PATH=/usr/bin:/bin',
      'TMPDIR=/scratch',
    ]);
  });

  void test('the parked shim passes the procs file as $0, never inside the script', () => {
    const argv = parkShim('/bin/sh', "/sys/fs/cgroup/x'y/cgroup.procs");
    assert.equal(argv[3], "/sys/fs/cgroup/x'y/cgroup.procs");
    assert.ok(!(argv[2] ?? '').includes('cgroup'));
  });
});
