// handover.js: start a PM2 app again from another directory, with no failed request.
//
// Run on the host as `node -e "$(cat handover.js)" PKG NAME DIR MS MODE SUFFIX`
// (deploy/handover.py builds the command):
//   PKG     the pm2 package directory (its programmatic API is required from there)
//   NAME    the PM2 app name
//   DIR     the directory to start it from, as PM2 should keep it (APP/current, a link)
//   MS      the deadline in milliseconds
//   MODE    `overlap`: the new app starts beside the old one first (cluster mode: both share
//           the listening socket through the PM2 daemon); `replace`: the old one is deleted
//           first (fork mode: a fork-mode process binds the port itself)
//   SUFFIX  appended to NAME for the temporary app of an overlap handover
//
// PM2 keeps the cwd and script path a process was started with, so `pm2 reload` cannot move
// an app. Here the app is started under NAME+SUFFIX from DIR's ecosystem file; once every new
// worker said `ready` (wait_ready apps; else once it stayed online for 1.5 s) the old app is
// deleted (PM2 stops its workers gracefully), NAME is started from DIR, and the temporary app
// is deleted. A failure before the old app is deleted changes nothing.
//
// Prints one JSON line {ok, stage, detail} and exits 0; names and counts only, never env.

const [pkg, name, dir, ms, mode, suffix] = process.argv.slice(1);
const path = require('path');
const fs = require('fs');
const pm2 = require(pkg);

const tmp = name + suffix;
const deadline = Date.now() + Number(ms);
const ready = new Set(); // `name#pm_id` of workers that sent process.send('ready')
let stage = 'load';

function out(ok, detail) {
  console.log(JSON.stringify({ok, stage, detail}));
  try {
    pm2.disconnect();
  } catch (e) {
    // not connected yet
  }
  process.exit(0);
}

// A node-style callback API as a promise.
const P = (f) => new Promise((res, rej) => f((e, v) => (e ? rej(e) : res(v))));

// An error's first line, short (PM2's errors may carry `msg` instead of `message`).
const msg = (e) => String((e && (e.message || e.msg)) || e).split('\n')[0].slice(0, 200);

// The app's entry in DIR's ecosystem file, with cwd and script made absolute under DIR as
// given (not as resolved): PM2 then keeps the link, so the next handover can move it again.
function loadApp() {
  const real = fs.realpathSync(dir);
  const file = ['ecosystem.config.js', 'ecosystem.config.cjs', 'ecosystem.json']
    .map((n) => path.join(real, n))
    .find((x) => fs.existsSync(x));
  if (!file) throw new Error('no ecosystem file in ' + dir);
  const m = require(file);
  let apps = (m && (m.apps || (m.default && m.default.apps))) || [];
  if (!Array.isArray(apps)) apps = [apps];
  const app = apps.find((x) => x && x.name === name);
  if (!app) throw new Error('no app ' + name + ' in ' + path.basename(file));
  const swap = (p) =>
    p === real ? dir : p.startsWith(real + '/') ? dir + p.slice(real.length) : p;
  const base = path.resolve(real, app.cwd || '.');
  return {...app, cwd: swap(base), script: swap(path.resolve(base, app.script))};
}

async function list(n) {
  return (await P((cb) => pm2.list(cb))).filter((p) => p.name === n);
}

// Start the app as n and wait until its workers are ready; throws when one does not stay up
// or the deadline passes. Returns how many workers started.
async function startAs(app, n) {
  const started = await P((cb) => pm2.start({...app, name: n}, cb));
  const ids = (started || []).map((p) => (p.pm2_env || p).pm_id);
  if (!ids.length) throw new Error('pm2 started nothing');
  const since = Date.now();
  for (;;) {
    const ps = await list(n);
    const bad = ps.find(
      (p) => ['errored', 'stopped'].includes(p.pm2_env.status) || p.pm2_env.restart_time > 0,
    );
    if (bad) {
      throw new Error(n + ' worker ' + bad.pm_id + ' did not stay up (' + bad.pm2_env.status + ')');
    }
    const up = ps.filter((p) => p.pm2_env.status === 'online');
    const done = app.wait_ready
      ? ids.every((i) => ready.has(n + '#' + i))
      : up.length === ids.length && Date.now() - since > 1500;
    if (done) return ids.length;
    if (Date.now() > deadline) throw new Error(n + ': workers not ready in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function del(n) {
  if ((await list(n)).length) await P((cb) => pm2.delete(n, cb));
}

const seconds = (x) => (x / 1000).toFixed(1) + ' s';

// Fork mode: the old processes go first, then the new ones start (a gap, reported).
async function replace(app) {
  stage = 'delete-old';
  const t0 = Date.now();
  await del(name);
  const t1 = Date.now();
  stage = 'start';
  let n;
  try {
    n = await startAs(app, name);
  } catch (e) {
    return out(false, msg(e) + '; the old processes were already stopped');
  }
  return out(
    true,
    name + ': ' + n + ' process(es) started from ' + dir + ' after the old ones stopped ' +
      '(fork mode cannot share the port: new connections were refused for up to ' +
      seconds(Date.now() - t0) + ': the old drain ' + seconds(t1 - t0) +
      ', the new start ' + seconds(Date.now() - t1) + ')',
  );
}

// Cluster mode: the temporary app serves beside the old one until NAME runs from DIR.
async function overlap(app) {
  stage = 'start-temporary';
  try {
    await startAs(app, tmp);
  } catch (e) {
    try {
      await del(tmp);
    } catch (x) {
      // the message below says what matters
    }
    return out(false, msg(e) + '; the app was left as it was');
  }
  stage = 'delete-old';
  await del(name);
  stage = 'start';
  let n;
  try {
    n = await startAs(app, name);
  } catch (e) {
    return out(false, msg(e) + '; ' + tmp + ' still serves from ' + dir);
  }
  stage = 'delete-temporary';
  await del(tmp);
  return out(
    true,
    name + ': ' + n + ' worker(s) started from ' + dir +
      ' by a handover (the old ones were stopped once the new ones were ready)',
  );
}

async function main() {
  const app = loadApp();
  stage = 'connect';
  await P((cb) => pm2.connect(cb));
  const bus = await P((cb) => pm2.launchBus(cb));
  bus.on('process:msg', (p) => {
    if (p && p.raw === 'ready' && p.process) ready.add(p.process.name + '#' + p.process.pm_id);
  });
  stage = 'clean';
  await del(tmp); // left by an earlier handover that was cut short
  return mode === 'replace' ? replace(app) : overlap(app);
}

main().catch((e) => out(false, msg(e)));
