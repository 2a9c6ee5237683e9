import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { redactUrl } from '../../../src/config/index.js';

void describe('redactUrl', () => {
  const cases: [string, string][] = [
    ['http://isolated:pass@security-pool.example:8080', 'http://isolated:***@security-pool.example:8080'],
    ['https://u:p@h/', 'https://u:***@h/'],
    ['http://user@h:3128', 'http://user@h:3128'],
    ['http://h:3128', 'http://h:3128'],
    ['http://u:p%40ss@h', 'http://u:***@h'],
    ['http://u:p@ss@h:1', 'http://u:***@h:1'],
    ['socks5://u:secret@h:1080', 'socks5://u:***@h:1080'],
    ['u:secret@h:8080', 'u:***@h:8080'],
    ['http://u:secret@h:99999', 'http://u:***@h:99999'],
    ['http://u:@h', 'http://u:***@h'],
    // A '/' in the password ends the authority for the URL parser; it must not be echoed.
    ['http://u:p/ss@host:1', 'http://u:***@host:1'],
    ['http://user:pa#ss@host:8080', 'http://user:***@host:8080'],
    ['http://user:s3cr?et@host:8080', 'http://user:***@host:8080'],
    ['http://user:80#secret@host', 'http://user:***@host'],
    ['not a url', 'not a url'],
    ['', ''],
  ];
  for (const [input, expected] of cases) {
    void test(`redacts ${JSON.stringify(input)}`, () => {
      assert.equal(redactUrl(input), expected);
    });
  }

  void test('never throws and never returns the password, whatever the text around it', () => {
    const password = fc.string({ minLength: 6, maxLength: 20 }).filter((s) => /^[A-Za-z0-9]+$/.test(s));
    const noise = fc.string({ maxLength: 12 }).filter((s) => !/[@/?#\\]/.test(s));
    fc.assert(
      fc.property(
        fc.constantFrom('http://', 'https://', 'socks5://', ''),
        noise,
        password,
        noise,
        (scheme, user, pw, host) => {
          const url = `${scheme}${user.replace(/:/g, '')}:${pw}@${host}x.example:8080`;
          const out = redactUrl(url);
          assert.equal(typeof out, 'string');
          assert.ok(!out.includes(`:${pw}@`), `${url} -> ${out}`);
        },
      ),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.string(), (s) => typeof redactUrl(s) === 'string'),
      { numRuns: 300 },
    );
  });
});
