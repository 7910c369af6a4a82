// The stand-in PM2's programmatic API (what hostside/handover.js and overlap.js call): connect,
// launchBus, list, start, delete, scale, disconnect, over the process list in state.js. A
// started worker of an app with wait_ready sends `ready` on the bus at once.
const {EventEmitter} = require('events');
const {load, save, worker} = require('./state');

const bus = new EventEmitter();
const later = (cb, v) => setImmediate(() => cb(null, v));

function call(what) {
  const s = load();
  s.calls.push(what);
  save(s);
}

function started(s, ws) {
  s.procs.push(...ws);
  save(s);
  for (const w of ws) {
    if (w.pm2_env.wait_ready && w.pm2_env.status === 'online') {
      setTimeout(() => bus.emit('process:msg', {raw: 'ready', process: {name: w.name,
        pm_id: w.pm_id}}), 20);
    }
  }
}

module.exports = {
  connect: (cb) => later(cb),
  disconnect: () => call('disconnect'),
  launchBus: (cb) => later(cb, bus),
  list: (cb) => later(cb, load().procs),
  start(app, cb) {
    call('start ' + app.name + ' ' + app.cwd);
    const s = load();
    const n = Number(app.instances) || 1;
    const ws = Array.from({length: n}, () => worker(s, app, app.name));
    started(s, ws);
    later(cb, ws);
  },
  delete(which, cb) {
    call('delete ' + which);
    const s = load();
    s.procs = s.procs.filter((p) => p.name !== which && p.pm_id !== which);
    save(s);
    later(cb);
  },
  scale(name, n, cb) {
    call('scale ' + name + ' ' + n);
    const s = load();
    const mine = s.procs.filter((p) => p.name === name);
    const ws = Array.from({length: n - mine.length}, () => worker(s, mine[0].pm2_env, name));
    started(s, ws);
    later(cb);
  },
};
