/**
 * README claims that code decides: the API example's custom tool is allowed to the agent it runs,
 * the built-in tools and their limits, the output size cap, and the private-address recipe (its
 * snippet is parsed and decided by the real policy engine).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import JSON5 from 'json5';
import { parseNetworkSection } from '../../src/config/network.js';
import { MAX_OBJECT_KEYS, MAX_PAYLOAD_BYTES, MAX_VALUE_DEPTH } from '../../src/ipc/limits.js';
import { EgressPolicy, parseHost } from '../../src/policy/index.js';
import { BUILTIN_TOOLS, SANITIZED_PARSE_LIMITS, WEB_FETCH_LIMITS } from '../../src/tools/builtin/index.js';
import { repoRoot } from '../helpers/paths.js';

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');

/** The first fenced block of `lang` after `marker`. */
function blockAfter(marker: string, lang: string): string {
  const at = readme.indexOf(marker);
  assert.ok(at >= 0, `README has ${marker}`);
  const open = readme.indexOf('```' + lang + '\n', at);
  assert.ok(open >= 0, `a ${lang} block after ${marker}`);
  const start = open + lang.length + 4;
  return readme.slice(start, readme.indexOf('```', start));
}

/** The README section under `heading` (up to the next heading of any level). */
function section(heading: string): string {
  const at = readme.indexOf(heading);
  assert.ok(at >= 0, `README has ${heading}`);
  const rest = readme.slice(at + heading.length);
  const next = rest.search(/\n#{2,3} /);
  return next < 0 ? rest : rest.slice(0, next);
}

const KiB = 1024;

void describe('README', () => {
  void test("the API example's custom tools are in tools_allowed of the agent it runs", () => {
    const api = blockAfter('## API', 'ts');
    const tools = /tools: \{\n\s+([a-z_]+): \{/.exec(api)?.[1];
    const agent = /agent: '([a-z_]+)'/.exec(api)?.[1];
    assert.ok(tools !== undefined && agent !== undefined, 'the API snippet defines a tool and runs an agent');
    const config = JSON5.parse<{ agents: Record<string, { tools_allowed?: string[] }> }>(
      blockAfter('## Configuration', 'jsonc'),
    );
    assert.ok(
      config.agents[agent]?.tools_allowed?.includes(tools) === true,
      `${tools} is in agents.${agent}.tools_allowed of the Configuration example`,
    );
  });

  void test('names every built-in tool and states its limits as the code has them', () => {
    for (const name of Object.keys(BUILTIN_TOOLS)) assert.match(readme, new RegExp(`^- \`${name}\` `, 'm'));
    assert.equal(WEB_FETCH_LIMITS.defaultMaxBytes, 256 * KiB);
    assert.equal(WEB_FETCH_LIMITS.hardMaxBytes, 704 * KiB);
    assert.equal(WEB_FETCH_LIMITS.maxRedirects, 5);
    assert.equal(WEB_FETCH_LIMITS.totalTimeoutMs, 30_000);
    assert.match(readme, /at most `maxBytes` \(default 256 KiB, at most 704 KiB/);
    assert.match(readme, /Up to 5 redirects/);
    assert.equal(SANITIZED_PARSE_LIMITS.defaultMaxBytes, 256 * KiB);
    assert.equal(SANITIZED_PARSE_LIMITS.hardMaxBytes, 768 * KiB);
    assert.equal(SANITIZED_PARSE_LIMITS.defaultMaxDepth, 32);
    assert.equal(SANITIZED_PARSE_LIMITS.hardMaxDepth, 256);
    assert.match(
      readme,
      /size limit \(default 256 KiB, at most 768 KiB\) and a nesting limit \(default 32, at most\s+256\)/,
    );
  });

  void test('states the output size cap the runtime and the parent enforce', () => {
    assert.equal(MAX_PAYLOAD_BYTES, 786_432);
    assert.equal(MAX_VALUE_DEPTH, 64);
    assert.equal(MAX_OBJECT_KEYS, 10_000);
    const text = section('**Output size cap.**');
    assert.match(text, /\*\*768 KiB\*\* serialised \(786,432 bytes/);
    assert.match(text, /nested at most 64\s+levels, with at most 10,000 keys/);
    assert.match(text, /`SG_SUBAGENT_OUTPUT`/);
    assert.match(text, /`protocol_violation`/);
  });

  void test('the private-address recipe reaches the private destination and nothing more', () => {
    const snippet = blockAfter('### Reaching a private address', 'jsonc');
    const network = JSON5.parse<{ network: unknown }>(`{${snippet}}`).network;
    const policy = new EgressPolicy(parseNetworkSection(network));
    const target = (host: string, port: number) => {
      const h = parseHost(host);
      assert.ok(h !== null, host);
      return policy.checkTarget({ scheme: 'http', host: h, port });
    };
    assert.equal(target('billing.internal.example', 8080).allow, true);
    assert.equal(policy.checkAddresses(['10.20.0.7']).allow, true);
    assert.equal(target('10.20.0.7', 8080).allow, true);
    // One answer outside allowed_cidrs refuses the request.
    assert.equal(policy.checkAddresses(['10.20.0.7', '10.21.0.1']).allow, false);
    // The port is the third key: 443 is not in this allowed_ports.
    assert.equal(target('billing.internal.example', 443).allow, false);
    assert.equal(policy.checkAddresses(['169.254.169.254']).allow, false);
    // Without the CIDR exception, the listed name still cannot reach the private address.
    const noCidr = new EgressPolicy(
      parseNetworkSection({ ...(network as Record<string, unknown>), allowed_cidrs: [] }),
    );
    assert.equal(noCidr.checkAddresses(['10.20.0.7']).allow, false);
  });
});
