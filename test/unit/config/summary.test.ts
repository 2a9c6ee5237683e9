import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { configToJson, formatConfigSummary, loadConfig } from '../../../src/config/index.js';
import { validDir } from './helpers.js';

void describe('config summaries', () => {
  void test('the text summary shows informational notes by key only and proxies redacted', async () => {
    const c = await loadConfig(join(validDir, 'security-proxy.json'));
    const text = formatConfigSummary(c);
    assert.match(text, /memory: informational, not enforced \(keys: sensitive_data, credentials\)/);
    assert.ok(!text.includes('keychain_managed'));
    assert.ok(!text.includes('s3cret'));
    assert.match(
      text,
      /gateway: listen 127\.0\.0\.1:0, upstream http:\/\/pool-user:\*\*\*@proxy\.internal\.example:3128/,
    );
    assert.match(text, /audit: .*guard\.log \(level debug\)/);
  });

  void test('the JSON view holds no secret and survives a JSON round trip', async () => {
    const c = await loadConfig(join(validDir, 'security-proxy.json'));
    const text = JSON.stringify(configToJson(c));
    assert.ok(!text.includes('s3cret'));
    assert.ok(!text.includes('keychain_managed'));
    const back = JSON.parse(text) as { agents: Record<string, { proxy: string | null }> };
    assert.equal(
      back.agents.security_proxy_untrusted?.proxy,
      'http://isolated:***@security-pool.example:8080',
    );
  });
});
