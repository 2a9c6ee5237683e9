#!/usr/bin/env node
// The `proxy` npm package as a peer: a plain Node forward proxy with no filtering (a floor for what
// a Node proxy costs). Prints {"url": "http://127.0.0.1:PORT"}.
import { createServer } from 'node:http';
import { once } from 'node:events';
import { createProxy } from 'proxy';

const server = createProxy(createServer());
server.keepAliveTimeout = 120_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1');
await once(server, 'listening');
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })}\n`);
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
