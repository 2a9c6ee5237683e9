// The limit for spawn latency: a bare child_process.fork child that reports over IPC at once.
process.send?.('ready');
process.on('message', () => process.exit(0));
