// The official socket.io-client doing what bench/handshake_client.py does: TOTAL authenticated
// handshakes (websocket transport, auth {token}), CONCURRENCY at a time; each waits for the
// server's `connected` event (or a refusal), then disconnects. The token comes on stdin.
// Usage: node handshakes.js URL TOTAL CONCURRENCY TIMEOUT_MS  (NODE_PATH: tests/node/node_modules)
'use strict';
const { io } = require('socket.io-client');
const [url, total, concurrency, timeoutMs] = process.argv.slice(2);
let token = '';
process.stdin.on('data', (d) => { token += d; });
process.stdin.on('end', () => main(token.trim()));

function once(tok) {
  return new Promise((resolve) => {
    const socket = io(url, { transports: ['websocket'], auth: { token: tok }, reconnection: false,
                             forceNew: true, timeout: Number(timeoutMs) });
    const timer = setTimeout(() => done(false), Number(timeoutMs));
    function done(ok) { clearTimeout(timer); socket.disconnect(); resolve(ok); }
    socket.on('connected', () => done(true));
    socket.on('connect_error', () => done(false));
  });
}

async function main(tok) {
  let next = 0, ok = 0;
  const started = process.hrtime.bigint();
  async function worker() {
    while (next < Number(total)) { next += 1; if (await once(tok)) ok += 1; }
  }
  await Promise.all(Array.from({ length: Number(concurrency) }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(JSON.stringify({ ok, failed: Number(total) - ok, seconds }));
  process.exit(0);
}
