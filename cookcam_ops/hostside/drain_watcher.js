// drain_watcher.js: trigger a PM2 stop, restart or reload of the app and watch it drain.
//
// Run on the host in the app's directory as `node -e "$(cat drain_watcher.js)" CONFIG`
// (drain/watcher.py), CONFIG being JSON: {name, app_path, via, deadline_ms, bus_wait_ms}:
//   name         the PM2 app
//   app_path     where its build is (dist/ is searched for signal handlers)
//   via          `reload` or `restart` (runs `pm2 VIA NAME`), or `signal` (sends each worker
//                PM2's kill signal itself, one at a time, waiting for its replacement)
//   deadline_ms  the bound on the whole watch
//   bus_wait_ms  how long PM2's log bus gets to connect before the trigger
//
// In one round trip: reads the app's workers from `pm2 jlist` (whitelisted fields), the signal
// PM2 sends (the daemon's PM2_KILL_SIGNAL) and the signal handlers in the built code; notes the
// sizes of the workers' log files and PM2's daemon log; triggers; then every 25 ms stamps new
// log lines and notes when each old pid is gone, until the workers are back online. Only lines
// that are shutdown markers (or PM2's exit and SIGKILL notices) leave the host: app logs may
// hold personal data. Prints one JSON line: {t_end, kill_signal, handlers, before, after,
// trigger, sent, exits, lines} or {error}; times are ms since the watcher started.

const {spawn, execFileSync} = require('child_process'), fs = require('fs'), os = require('os');
const path = require('path');
const cfg = JSON.parse(process.argv[1]);
const T0 = Date.now(), t = () => Date.now() - T0;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const home = process.env.PM2_HOME || path.join(os.homedir(), '.pm2');
const KEEP = new RegExp('received, starting graceful shutdown|HTTP server closed|' +
  'Closing WebSocket connections|Graceful shutdown complete|' +
  'Graceful shutdown (did not finish|failed)|received again|connection\\(s\\) still open');
const KEEP_DAEMON = /SIGKILL|exited with code|still alive after|could not be killed/;
const lines = [], files = new Map(), exits = {}, sent = [];

function jlist() {  // whitelisted fields only: pm2_env.env holds the app's secrets
  try {
    const o = execFileSync('pm2', ['jlist'], {encoding: 'utf8', maxBuffer: 256 << 20,
      stdio: ['ignore', 'pipe', 'ignore']});
    return JSON.parse(o.slice(o.indexOf('['))).filter((p) => p.name === cfg.name).map((p) => {
      const e = p.pm2_env || {};
      return {pm_id: p.pm_id, pid: p.pid, status: e.status, exec_mode: e.exec_mode,
        kill_timeout: e.kill_timeout, listen_timeout: e.listen_timeout,
        out: e.pm_out_log_path, err: e.pm_err_log_path};
    });
  } catch (e) { return null; }
}
function killSignal() {  // prints only PM2_KILL_SIGNAL, never the rest of the environment
  try {
    const pid = fs.readFileSync(path.join(home, 'pm2.pid'), 'utf8').trim();
    const l = fs.readFileSync('/proc/' + pid + '/environ', 'utf8').split('\0')
      .find((x) => x.startsWith('PM2_KILL_SIGNAL='));
    return 'daemon ' + (l ? l.slice(16) : '');
  } catch (e) { return 'shell ' + (process.env.PM2_KILL_SIGNAL || ''); }
}
function handlers() {  // lines of the build that register signal handlers
  const out = [];
  let n = 0;
  const walk = (d) => {
    let es;
    try { es = fs.readdirSync(d, {withFileTypes: true}); } catch (e) { return false; }
    for (const e of es) {
      if (n++ > 5000) break;
      const p = path.join(d, e.name);
      if (e.isDirectory() && e.name !== 'node_modules') walk(p);
      else if (/\.(c|m)?js$/.test(e.name)) {
        for (const l of fs.readFileSync(p, 'utf8').split('\n')) {
          if (/process\s*\.\s*(on|once|addListener|prependListener)\s*\(/.test(l) &&
              /SIG[A-Z]/.test(l)) out.push(l.trim().slice(0, 200));
        }
      }
    }
    return true;
  };
  return walk(path.join(cfg.app_path, 'dist')) ? out : null;
}
// PM2's log bus: every line a worker writes reaches it over IPC, stamped with its pm_id
// ("_old_N" for a worker being replaced by a reload), even when the worker exits before its
// own asynchronous write to the log file completes.
function startBus() {
  const c = spawn('pm2', ['logs', cfg.name, '--json', '--lines', '0'],
    {stdio: ['ignore', 'pipe', 'ignore']});
  let buf = '';
  c.stdout.setEncoding('utf8');
  c.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {  // a fork-mode worker's one stdout chunk may carry several lines: each on its own
        const j = JSON.parse(l), ts = Date.parse(j.timestamp);
        if (j.type !== 'out' && j.type !== 'err') continue;
        for (const m of String(j.message || '').split('\n')) {
          if (KEEP.test(m)) lines.push({t: isNaN(ts) ? t() : ts - T0, src: 'bus',
            pm_id: String(j.process_id), text: m.trim().slice(0, 300)});
        }
      } catch (e) { /* not a JSON line */ }
    }
  });
  c.on('error', () => {});
  return c;
}
const size = (f) => { try { return fs.statSync(f).size; } catch (e) { return 0; } };
function watchFile(f, src) {
  if (f && !files.has(f)) files.set(f, {off: size(f), rest: Buffer.alloc(0), src});
}
function poll() {  // new lines of the watched files since their noted sizes
  for (const [f, st] of files) {
    const s = size(f);
    if (s < st.off) st.off = 0;
    if (s <= st.off) continue;
    const n = Math.min(s - st.off, 8 << 20), b = Buffer.alloc(n), fd = fs.openSync(f, 'r');
    fs.readSync(fd, b, 0, n, st.off);
    fs.closeSync(fd);
    st.off += n;
    let buf = Buffer.concat([st.rest, b]), i;
    while ((i = buf.indexOf(10)) >= 0) {
      const l = buf.subarray(0, i).toString('utf8');
      buf = buf.subarray(i + 1);
      if ((st.src === 'daemon' ? KEEP_DAEMON : KEEP).test(l))
        lines.push({t: t(), src: st.src, file: f, text: l.trim().slice(0, 300)});
    }
    st.rest = buf;
  }
}
const alive = (pid) => {
  try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; }
};
function check(pids) { for (const p of pids) if (!(p in exits) && !alive(p)) exits[p] = t(); }
async function until(pred, ms, pids) {
  const end = Date.now() + ms;
  for (;;) {
    poll(); check(pids);
    if (pred()) return true;
    if (Date.now() >= end) return false;
    await sleep(25);
  }
}
function runPm2(args) {
  return new Promise((res) => {
    const c = spawn('pm2', args, {stdio: ['ignore', 'pipe', 'pipe']});
    let o = '';
    const keep = (d) => { o = (o + d).slice(-2000); };
    c.stdout.on('data', keep); c.stderr.on('data', keep);
    c.on('error', (e) => res({code: -1, out: String(e.code || e)}));
    c.on('close', (code) => res({code, out: o}));
  });
}
const left = (cap) => Math.max(0, Math.min(cap, cfg.deadline_ms - t()));
async function signalEach(before, signal, pids) {  // one worker at a time, as PM2 would
  for (const p of before) {
    if (!(p.pid > 0)) continue;
    sent.push({pid: p.pid, t: t(), signal});
    try { process.kill(p.pid, signal); } catch (e) { /* already gone */ }
    await until(() => p.pid in exits, left((p.kill_timeout || 1600) + 3000), pids);
    await until(() => (jlist() || []).some((n) => n.pm_id === p.pm_id && n.status === 'online' &&
      n.pid !== p.pid), left((p.listen_timeout || 3000) + 10000), pids);
  }
  return {code: 0, out: ''};
}
async function main() {
  const before = jlist(), sig = killSignal(), h = handlers();
  if (!before) {
    console.log(JSON.stringify({error: 'pm2 jlist failed (is PM2 running?)'}));
    return;
  }
  const signal = sig.split(' ')[1] || 'SIGINT';
  const pids = before.map((p) => p.pid).filter((p) => p > 0);
  for (const p of before) { watchFile(p.out, 'file'); watchFile(p.err, 'file'); }
  watchFile(path.join(home, 'pm2.log'), 'daemon');
  const bus = startBus();
  await sleep(cfg.bus_wait_ms);
  const trig = {via: cfg.via, start_ms: t()};
  let r = null;
  (cfg.via === 'signal' ? signalEach(before, signal, pids) : runPm2([cfg.via, cfg.name]))
    .then((x) => { r = x; });
  await until(() => r !== null, left(cfg.deadline_ms), pids);
  r = r || {code: -2, out: 'still running at the deadline'};
  Object.assign(trig, {code: r.code, out: r.out, end_ms: t()});
  const kmax = Math.max(1600, ...before.map((p) => p.kill_timeout || 1600));
  await until(() => pids.every((p) => p in exits), left(kmax + 3000), pids);
  let after = null;
  await until(() => { after = jlist(); return after && after.length >= before.length &&
    after.every((p) => p.status === 'online'); }, left(30000), pids);
  await sleep(500); poll(); check(pids); bus.kill();
  console.log(JSON.stringify({t_end: t(), kill_signal: sig, handlers: h, before, after,
    trigger: trig, sent, exits, lines}));
}
main().catch((e) => console.log(JSON.stringify({error: 'watcher failed: ' + (e.code || e.name)})));
