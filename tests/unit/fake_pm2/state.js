// The stand-in PM2's process list: a JSON file ($FAKE_PM2_STATE) shared by index.js (the
// programmatic API handover.js and overlap.js require) and bin/pm2 (the CLI drain_watcher.js
// runs), so a test sets it up and reads what a program left.
//
// The file: {"procs": [{name, pm_id, pid, pm2_env: {...}}], "next_id": N,
//            "fail": NAME-or-null (workers started under that name crash: status errored),
//            "calls": [what was asked, in order]}
const fs = require('fs');

const file = process.env.FAKE_PM2_STATE;

function load() {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function save(state) {
  fs.writeFileSync(file, JSON.stringify(state, null, 1));
}

// A new worker of app (an ecosystem entry, or an existing worker's pm2_env), given a pid that
// exists (this process's: nothing is spawned) unless the test's state says otherwise.
function worker(state, app, name) {
  const id = state.next_id++;
  const crash = state.fail === name;
  return {
    name,
    pm_id: id,
    pid: crash ? 0 : process.pid,
    pm2_env: {
      name,
      pm_id: id,
      status: crash ? 'errored' : 'online',
      exec_mode: app.exec_mode === 'fork' || app.exec_mode === 'fork_mode' ? 'fork_mode'
        : 'cluster_mode',
      wait_ready: !!app.wait_ready,
      pm_cwd: app.cwd || app.pm_cwd,
      pm_exec_path: app.script || app.pm_exec_path,
      restart_time: crash ? 1 : 0,
      pm_uptime: Date.now(),
      env: {JWT_SECRET: process.env.FAKE_PM2_SECRET || ''},
    },
  };
}

module.exports = {load, save, worker};
