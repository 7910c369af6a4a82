// `pm2 jlist` without starting the pm2 CLI (about 0.3 s of Node per look): asks the running
// PM2 daemon for its process list (getMonitorData: what `pm2 jlist` prints) over
// $PM2_HOME/rpc.sock with PM2's own RPC modules, found beside the `pm2` on PATH.
// Called as `node -e SCRIPT` (remote/composite.py's pm2_jlist, which checks first that the
// daemon runs). Prints the JSON list; exits 1 printing nothing when it cannot (no pm2 on PATH,
// modules laid out otherwise, no answer in 5 s), and the caller runs `pm2 jlist` instead.
'use strict';
const fs = require('fs');
const path = require('path');

const fail = () => process.exit(1);
setTimeout(fail, 5000);

function pm2Root() {
  for (const dir of (process.env.PATH || '').split(':')) {
    const bin = path.join(dir || '.', 'pm2');
    try {
      fs.accessSync(bin, fs.constants.X_OK);
      return path.resolve(fs.realpathSync(bin), '..', '..');
    } catch (e) { /* not here */ }
  }
  return fail();
}

function pm2Module(root, name) {
  for (const where of ['modules', 'node_modules', '..']) {
    try { return require(path.join(root, where, name)); } catch (e) { /* laid out otherwise */ }
  }
  return fail();
}

try {
  const root = pm2Root();
  const axon = pm2Module(root, 'pm2-axon');
  const rpc = pm2Module(root, 'pm2-axon-rpc');
  const home = process.env.PM2_HOME || path.join(process.env.HOME || '', '.pm2');
  const sock = axon.socket('req');
  const client = new rpc.Client(sock);
  sock.on('error', fail);
  sock.once('reconnect attempt', fail);
  sock.connect(path.join(home, 'rpc.sock'));
  client.call('getMonitorData', {}, (err, list) => {
    if (err || !Array.isArray(list)) return fail();
    process.stdout.write(JSON.stringify(list), () => process.exit(0));
  });
} catch (e) {
  fail();
}
