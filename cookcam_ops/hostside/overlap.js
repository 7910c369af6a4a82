// overlap.js: replace every worker of a cluster-mode PM2 app at once, new ones first.
//
// Run on the host as `node -e "$(cat overlap.js)" PKG NAME MS WINDOW_MS`
// (deploy/handover.py builds the command):
//   PKG        the pm2 package directory (its programmatic API is required from there)
//   NAME       the PM2 app name
//   MS         the deadline in milliseconds for the new workers to be ready
//   WINDOW_MS  how long the new workers must look the same once the old ones stopped
//
// Starts as many new workers as the app has (`pm2 scale NAME 2N`: PM2 duplicates them from
// the app's own settings, so they start from its cwd, e.g. APP/current), waits until each said
// `ready` (or is online for 1.5 s without wait_ready), then deletes the old workers, which stop
// gracefully, all at once, and watches the new ones for WINDOW_MS through PM2's API on the
// host (no round trips). A new worker that does not come up is deleted and the old ones are
// left serving.
//
// Prints `@@procs=[...]` (names, ids, pids, status, start time, restarts and the resolved cwd of
// each worker; never env) then one line saying what happened. Exit 0 done, 1 not.

const [pkg, name, ms, windowMs] = process.argv.slice(1);
const fs = require('fs');
const pm2 = require(pkg);

const deadline = Date.now() + Number(ms);
const ready = new Set(); // pm_ids of workers that sent process.send('ready')

function out(ok, detail) {
  console.log(detail);
  try {
    pm2.disconnect();
  } catch (e) {
    // not connected yet
  }
  process.exit(ok ? 0 : 1);
}

// A node-style callback API as a promise.
const P = (f) => new Promise((res, rej) => f((e, v) => (e ? rej(e) : res(v))));
const sleep = (t) => new Promise((r) => setTimeout(r, t));
const list = async () => (await P((cb) => pm2.list(cb))).filter((p) => p.name === name);
const drop = (ids) => Promise.all(ids.map((i) => P((cb) => pm2.delete(i, cb))));
const failed = (p) =>
  ['errored', 'stopped'].includes(p.pm2_env.status) || p.pm2_env.restart_time > 0;

// The new workers' pm_ids once all are ready; null (after deleting them) when one is not.
async function startNew(old) {
  const oldIds = old.map((p) => p.pm_id);
  const waitReady = !!old[0].pm2_env.wait_ready;
  await P((cb) => pm2.scale(name, old.length * 2, cb));
  const fresh = (await list()).filter((p) => !oldIds.includes(p.pm_id)).map((p) => p.pm_id);
  const t1 = Date.now();
  for (;;) {
    const ps = (await list()).filter((p) => fresh.includes(p.pm_id));
    const bad = ps.find(failed);
    if (bad) {
      await drop(fresh);
      return out(false, 'new worker ' + bad.pm_id + ' did not stay up; old ones kept');
    }
    const done = waitReady
      ? fresh.every((i) => ready.has(i))
      : ps.every((p) => p.pm2_env.status === 'online') && Date.now() - t1 > 1500;
    if (done) return fresh;
    if (Date.now() > deadline) {
      await drop(fresh);
      return out(false, 'new workers not ready in time; old ones kept');
    }
    await sleep(50);
  }
}

// After the old workers stopped: the new ones must not change (a crash loop would).
async function watchStable() {
  let seen = null;
  const t2 = Date.now();
  while (Date.now() - t2 < Number(windowMs)) {
    const ps = await list();
    const key = JSON.stringify(
      ps.map((p) => [p.pm_id, p.pid, p.pm2_env.status, p.pm2_env.restart_time]),
    );
    if (seen !== null && key !== seen) return false;
    seen = key;
    await sleep(100);
  }
  return true;
}

function cwd(pid) {
  try {
    return fs.readlinkSync('/proc/' + pid + '/cwd');
  } catch (e) {
    return null;
  }
}

async function main() {
  await P((cb) => pm2.connect(cb));
  const bus = await P((cb) => pm2.launchBus(cb));
  bus.on('process:msg', (p) => {
    if (p && p.raw === 'ready' && p.process) ready.add(p.process.pm_id);
  });
  const old = await list();
  if (!old.length) return out(false, 'no ' + name);
  if (old.some((p) => p.pm2_env.exec_mode !== 'cluster_mode')) {
    return out(false, name + ' is not in cluster mode');
  }
  const fresh = await startNew(old);
  await drop(old.map((p) => p.pm_id));
  if (!(await watchStable())) {
    return out(false, 'workers changed after the old ones stopped (a crash loop?)');
  }
  const procs = (await list()).map((p) => ({
    name: p.name,
    pm_id: p.pm_id,
    pid: p.pid,
    status: p.pm2_env.status,
    pm_uptime: p.pm2_env.pm_uptime,
    restart_time: p.pm2_env.restart_time,
    cwd: cwd(p.pid),
  }));
  console.log('@@procs=' + JSON.stringify(procs));
  return out(true, fresh.length + ' new worker(s) ready, then ' + old.length + ' old one(s) stopped');
}

main().catch((e) => out(false, String((e && e.message) || e).split('\n')[0].slice(0, 200)));
