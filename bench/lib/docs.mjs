// Static text of the report: the reference figures and how to install and run each peer.

export const REFERENCE = `| | req/s c=16 | CPU µs/req | p99 | CONNECT bulk | tunnel setups/s |
|---|---:|---:|---:|---:|---:|
| direct | 47k (one-core Node origin) | | | 3.0 GB/s | 10.4k |
| squid 5.7 | 9.3k | 87–121 | 5.7 ms | 0.88 GB/s | 3.9k |
| \`proxy\` (npm) | 8.1k | | | 0.79 GB/s | 3.1k |
| tinyproxy | 1.0k (fsyncs every log line) | | | 0.41 GB/s | |

Targets: ahead of squid on req/s and p99 at 1, 16 and 64 connections with filtering and audit on, ≤ 80 µs proxy CPU per request; tunnels ≥ 1 GB/s and ≥ 4,000 setups/s; full-sandbox spawn ≤ fork + 15 ms; kill p99 ≤ 20 ms; ≥ 2,000,000 host decisions/s at 100,000 rules; ≥ 200 concurrent subagents.`;

export const PEER_DOCS = `## How to run

\`\`\`sh
apt-get install -y squid tinyproxy wrk   # peers and the load generator (Debian/Ubuntu)
npm run bench -- --quick                 # < 3 minutes: 1 repetition, short runs, 256 MiB tunnels
npm run bench                            # full: 3 interleaved repetitions, 5 s runs, 1 GiB tunnels, 60 s concurrency hold
node bench/run.mjs --only=http,connect --profile   # our gateway under --cpu-prof; hot spots in this report
node bench/run.mjs --report-only         # rebuild REPORT.md and charts from the newest results JSON
npm run build && node bench/run.mjs --only=startup --merge   # cold vs warm pool, bursts; other sections kept from the newest full run
\`\`\`

Every process (origin, peers, our gateway, load clients) is started by the benchmark in its own
process group, on loopback only (origin 127.0.0.2, proxies 127.0.0.1), from configuration files
generated into a private temp dir, and killed when the run ends or is interrupted. A peer that is not
installed is skipped and listed under "Skipped". The system squid/tinyproxy services are never used
(Debian starts squid as a service on install; the benchmark does not touch it).

## Peers and their configuration

- **subagent-guard** (\`bench/servers/gateway-server.mjs\`): \`createEgressGateway\` in its own Node
  process, one registered credential, \`allowed_domains: ['127.0.0.2', 'origin.bench.test']\`,
  \`allowed_cidrs: ['127.0.0.2/32']\` (loopback is otherwise prohibited), \`allowed_ports\` = the
  origin's two ports, audit ON to a file through pino's asynchronous destination, per-credential
  request-rate and tunnel caps lifted (a benchmark drives one credential far beyond production pacing).
  Every request carries \`Proxy-Authorization: Basic\`; the gateway checks it in constant time.
- **squid** (Debian \`squid\`): \`squid -N -f squid.conf\` (foreground, one worker, no daemon) with
  \`http_port 127.0.0.1:PORT\`, \`workers 1\`, \`cache deny all\`, \`cache_mem 0 MB\`,
  \`access_log stdio:…/access.log\`, \`pinger_enable off\`, \`via off\`, \`forwarded_for delete\`, and the
  allowlist \`acl origin dst 127.0.0.2/32\`, \`acl origin_ports port HTTP TCP\`,
  \`http_access deny !origin\`, \`http_access deny !origin_ports\`, \`http_access allow localhost\`,
  \`http_access deny all\`. Run as root it drops to the \`proxy\` user, so its temp dir is world-writable.
- **tinyproxy** (Debian \`tinyproxy\`): \`tinyproxy -d -c tinyproxy.conf\` with \`Listen 127.0.0.1\`,
  \`LogLevel Connect\`, \`LogFile\`, \`MaxClients 512\`, \`Allow 127.0.0.1\`, \`Filter\` (one line:
  \`^127\\.0\\.0\\.2$\`), \`FilterExtended On\`, \`FilterDefaultDeny Yes\`, \`ConnectPort\` for the origin's
  ports. tinyproxy has no port filter for plain HTTP.
- **proxy** (npm, devDependency): \`createProxy(http.createServer())\` in its own process
  (\`bench/servers/proxy-package.mjs\`). No filtering and no authentication: the floor for a Node
  forward proxy.
- **direct**: wrk (or the CONNECT client) straight to the origin: the physical limit of this
  machine's loopback plus a one-core Node origin.

Load: \`wrk -t1|2 -cN -dS --timeout 5s -s proxy-request.lua http://PROXY -- http://127.0.0.2:PORT/ 127.0.0.2:PORT 'Basic …'\`
(the generated Lua script sets the absolute-form path, the Host and Proxy-Authorization headers and
prints percentiles as JSON from \`done()\`). CONNECT load: \`bench/clients/connect-client.mjs\`.
`;
