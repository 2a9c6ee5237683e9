import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type { Dispatcher } from 'undici';
import { createLazyDispatcher, loadProxyAgentClass } from '../../../src/runtime/egress.js';

void describe('child egress dispatcher', () => {
  void test('loads undici ProxyAgent from its own modules, the same class the package exports', () => {
    const req = createRequire(import.meta.url);
    const ProxyAgent = loadProxyAgentClass();
    // The CONNECT tunnel needs the request API on Dispatcher.prototype, which undici's index
    // would install: the slim load must have done it before the package entry is ever loaded.
    const dispatcher = req('undici/lib/dispatcher/dispatcher.js') as { prototype: { connect?: unknown } };
    assert.equal(typeof dispatcher.prototype.connect, 'function');
    const pkg = req('undici') as { ProxyAgent: unknown };
    assert.equal(ProxyAgent, pkg.ProxyAgent);
  });

  void test('builds the real dispatcher only on the first request, once, and forwards every request', () => {
    let built = 0;
    const seen: string[] = [];
    const fake = {
      dispatch: (opts: Dispatcher.DispatchOptions) => {
        seen.push(opts.path);
        return true;
      },
      close: () => Promise.resolve(),
      destroy: () => Promise.resolve(),
    } as unknown as Dispatcher;
    const lazy = createLazyDispatcher(() => {
      built += 1;
      return fake;
    });
    assert.equal(lazy.loaded, false);
    assert.equal(built, 0, 'nothing is loaded before a request');
    const handler = {} as Dispatcher.DispatchHandler;
    assert.equal(lazy.dispatch({ path: '/a', method: 'GET' }, handler), true);
    assert.equal(lazy.dispatch({ path: '/b', method: 'GET' }, handler), true);
    assert.equal(built, 1);
    assert.equal(lazy.loaded, true);
    assert.deepEqual(seen, ['/a', '/b']);
  });

  void test('is frozen: user code cannot swap its dispatch for a direct one', () => {
    const lazy = createLazyDispatcher(() => {
      throw new Error('not used');
    });
    assert.ok(Object.isFrozen(lazy));
    assert.throws(() => {
      (lazy as { dispatch: unknown }).dispatch = () => true;
    }, TypeError);
  });

  void test('close() and destroy() before any request do not load undici', async () => {
    let built = 0;
    const lazy = createLazyDispatcher(() => {
      built += 1;
      throw new Error('not used');
    });
    await lazy.close();
    await lazy.destroy();
    assert.equal(built, 0);
  });
});
