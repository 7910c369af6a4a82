// cookcam-ops' session agent: one per host per run, started by remote/agent.py's launcher
// (`node -e AGENT` at the end of the channel that ran the host probe, PATH set to the host's
// toolchain), so the login shell and its rc files are paid once per host, not per command.
//
// It speaks one JSON object per line on stdin/stdout; requests carry an id the answers repeat:
//   {"id":N,"run":CMD,"timeout":S|null} runs CMD with the login shell ($SHELL -c, else sh) in a
//       session and process group of its own (as sshd runs an exec request), stdin /dev/null.
//       Answers {"id":N,"out":TEXT} / {"id":N,"err":TEXT} as output arrives, then
//       {"id":N,"exit":CODE,"timedOut":BOOL}: 124 and true when the timeout stopped its group
//       (TERM, KILL 5 s later), 128+SIGNAL when a signal ended it.
//   {"id":N,"read":PATH,"cap":BYTES} -> {"id":N,"data":BASE64} | {"id":N,"missing":true} |
//       {"id":N,"error":WHY} (not a regular file, larger than cap, or an errno code).
//   {"id":N,"write":PATH,"data":BASE64,"mode":MODE,"tag":T} writes PATH.cookcam-ops.T.tmp with
//       MODE, renames it into place -> {"id":N,"done":true} | {"id":N,"error":WHY}.
//   {"kill":N} stops command N's process group (TERM, KILL 5 s later): a cancelled command.
// It first says {"hello":PID,"node":VERSION}. At the end of stdin (the run is over, or the
// connection died) it closes its end of every running command's output and exits, as sshd
// does when an exec channel goes: what a lost connection left running is the engine's to
// stop (its reap). Nothing here logs or keeps what it reads.
'use strict';
const {spawn} = require('child_process');
const fs = require('fs');
const os = require('os');

const SHELL = process.env.SHELL || '/bin/sh';
// bash runs ~/.bashrc for any shell it believes sshd started (SSH_CLIENT set): without it
// the commands' shells are plain non-interactive ones, the rc paid once, by the launcher.
const ENV = Object.assign({}, process.env);
delete ENV.SSH_CLIENT;
delete ENV.SSH2_CLIENT;
const GRACE_MS = 5000;
const MAX_REQUEST = 16 * 1024 * 1024;
const jobs = new Map();
let gone = false;

process.stdout.on('error', () => { gone = true; });
const send = (o) => { if (!gone) process.stdout.write(JSON.stringify(o) + '\n'); };
const killGroup = (pid, sig) => { try { process.kill(-pid, sig); } catch (e) { /* gone */ } };
const stop = (job) => {
  killGroup(job.pid, 'SIGTERM');
  job.timers.push(setTimeout(() => killGroup(job.pid, 'SIGKILL'), GRACE_MS));
};

function run(id, cmd, timeout) {
  const child = spawn(SHELL, ['-c', cmd],
    {detached: true, env: ENV, stdio: ['ignore', 'pipe', 'pipe']});
  const job = {pid: child.pid, child, timedOut: false, timers: []};
  jobs.set(id, job);
  for (const [stream, key] of [[child.stdout, 'out'], [child.stderr, 'err']]) {
    stream.setEncoding('utf8');
    stream.on('data', (d) => send({id, [key]: d}));
  }
  if (timeout > 0) {
    job.timers.push(setTimeout(() => { job.timedOut = true; stop(job); }, timeout * 1000));
  }
  let finished = false;
  const finish = (code, signal) => {
    if (finished) return;
    finished = true;
    job.timers.forEach(clearTimeout);
    jobs.delete(id);
    const bySignal = signal ? 128 + (os.constants.signals[signal] || 0) : 1;
    send({id, exit: job.timedOut ? 124 : code !== null ? code : bySignal, timedOut: job.timedOut});
  };
  child.on('error', (e) => { send({id, err: `cannot start ${SHELL}: ${e.code}\n`}); finish(127); });
  child.on('close', finish);
  // A daemon the command started may hold its output open: 1 s after the command itself
  // ended, its answer is given anyway.
  child.on('exit', (code, signal) => {
    setTimeout(() => { child.stdout.destroy(); child.stderr.destroy(); finish(code, signal); },
      1000).unref();
  });
}

function read(id, path, cap) {
  let fd;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return send({id, error: 'not a regular file'});
    if (st.size > cap) return send({id, error: 'too large'});
    const buf = Buffer.alloc(cap + 1);
    let n = 0, got;
    while (n < buf.length && (got = fs.readSync(fd, buf, n, buf.length - n, null)) > 0) n += got;
    if (n > cap) return send({id, error: 'grew'});
    send({id, data: buf.subarray(0, n).toString('base64')});
  } catch (e) {
    send(e.code === 'ENOENT' ? {id, missing: true} : {id, error: String(e.code || e.name)});
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function write(id, path, data, mode, tag) {
  const tmp = `${path}.cookcam-ops.${tag}.tmp`;
  try {
    fs.writeFileSync(tmp, Buffer.from(data, 'base64'), {mode});
    fs.chmodSync(tmp, mode);
    fs.renameSync(tmp, path);
    send({id, done: true});
  } catch (e) {
    try { fs.unlinkSync(tmp); } catch (e2) { /* never written */ }
    send({id, error: String(e.code || e.name)});
  }
}

function handle(line) {
  let r;
  try { r = JSON.parse(line); } catch (e) { return send({error: 'not JSON'}); }
  if (typeof r.run === 'string') return run(r.id, r.run, Number(r.timeout) || 0);
  if (typeof r.read === 'string') return read(r.id, r.read, Number(r.cap) || 0);
  if (typeof r.write === 'string') return write(r.id, r.write, r.data, r.mode, r.tag);
  if (r.kill !== undefined) { const job = jobs.get(r.kill); return job && stop(job); }
  send({id: r.id, error: 'unknown request'});
}

let pending = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  pending += d;
  let nl;
  while ((nl = pending.indexOf('\n')) >= 0) {
    const line = pending.slice(0, nl);
    pending = pending.slice(nl + 1);
    if (line) handle(line);
  }
  if (pending.length > MAX_REQUEST) { send({error: 'request too long'}); process.exit(2); }
});
const end = () => {
  for (const job of jobs.values()) { job.child.stdout.destroy(); job.child.stderr.destroy(); }
  process.exit(0);
};
process.stdin.on('end', end);
process.stdin.on('error', end);
send({hello: process.pid, node: process.version});
