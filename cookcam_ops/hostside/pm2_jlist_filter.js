// pm2_jlist_filter.js: what may leave the host of PM2's process list.
//
// Run on the host as `pm2 jlist | node -e "$(cat pm2_jlist_filter.js)"`, or with the argument
// `saved` and PM2's saved list on stdin (`< $PM2_HOME/dump.pm2`) (remote/composite.py).
// `pm2 jlist` carries each app's environment, secrets included, in pm2_env (and dump.pm2 in
// each entry): only the fields below are printed, never `env` or another variable.
//
// Prints {"now": ms, "processes": [...]} or {"now": ms, "error": ...}. Each process's `cwd` is
// where it runs as the kernel resolves it (/proc/PID/cwd: the release it really runs); for the
// saved list, where its pm_cwd resolves now (where `pm2 resurrect` would start it).

const fs = require('fs');

const saved = process.argv[1] === 'saved';

function cwdOf(pid) {
  try {
    return pid ? fs.readlinkSync('/proc/' + pid + '/cwd') : null;
  } catch (e) {
    return null;
  }
}

function realOf(p) {
  try {
    return typeof p === 'string' ? fs.realpathSync(p) : null;
  } catch (e) {
    return null;
  }
}

// The whitelisted fields of one process (a saved entry is its pm2_env itself).
function whitelisted(p) {
  const e = (saved ? p : p.pm2_env) || {};
  const m = p.monit || {};
  return {
    name: p.name,
    pm_id: p.pm_id,
    pid: saved ? null : p.pid,
    cwd: saved ? realOf(e.pm_cwd) : cwdOf(p.pid),
    cpu: m.cpu,
    memory: m.memory,
    status: e.status,
    exec_mode: e.exec_mode,
    instances: e.instances,
    restart_time: e.restart_time,
    unstable_restarts: e.unstable_restarts,
    pm_uptime: e.pm_uptime,
    pm_cwd: e.pm_cwd,
    pm_exec_path: e.pm_exec_path,
    kill_timeout: e.kill_timeout,
    wait_ready: e.wait_ready,
    listen_timeout: e.listen_timeout,
    pm_out_log_path: e.pm_out_log_path,
    pm_err_log_path: e.pm_err_log_path,
  };
}

let s = '';
process.stdin
  .on('data', (d) => (s += d))
  .on('end', () => {
    let a;
    try {
      a = JSON.parse(s.slice(s.indexOf('['))); // pm2 may print a banner before the JSON
    } catch (e) {
      console.log(JSON.stringify({now: Date.now(), error: 'pm2 jlist printed no JSON'}));
      return;
    }
    const processes = (Array.isArray(a) ? a : []).map(whitelisted);
    console.log(JSON.stringify({now: Date.now(), processes}));
  });
