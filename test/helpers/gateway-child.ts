/**
 * A gateway in its own process, so a test can measure the gateway's memory alone.
 * argv[2] = the allowed origin port. Prints `{ port, auth }` as one JSON line; exits when its
 * stdin closes (so it never outlives the test).
 */
import { pino } from 'pino';
import { createEgressGateway } from '../../src/gateway/index.js';

const originPort = Number(process.argv[2]);
const gw = await createEgressGateway({
  resolver: () => Promise.resolve([{ address: '127.0.0.2', family: 4 as const }]),
  logger: pino({ level: 'silent' }),
});
const c = gw.register({
  id: 'big',
  network: {
    allowed_domains: ['api.allowed.test'],
    allowed_ports: [originPort],
    allowed_cidrs: ['127.0.0.2/32'],
    max_egress_bytes: 1024 * 1024 * 1024,
  },
});
process.stdout.write(
  `${JSON.stringify({ port: gw.address.port, auth: `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` })}\n`,
);
process.stdin.resume();
process.stdin.on('end', () => {
  void gw.close().then(() => process.exit(0));
});
