// ecosystem_reader.js: a PM2 ecosystem file reduced to its settings and env key NAMES.
//
// Run on the host as `node -e "$(cat ecosystem_reader.js)" FILE SHA < SOURCE`
// (pm2/ecosystem.py):
//   stdin  the file's source (`cat FILE`, or `git show COMMIT:PATH` for a commit's file)
//   FILE   the path the file has, or would have, in the app directory
//   SHA    the commit it was read from ('' for the served file)
//
// The file is JavaScript, so only node can say what it means: the source is compiled as a
// module at FILE, so `__dirname` and relative requires resolve as PM2 would resolve them.
// Nothing is written to the host. Prints {file, sha, cpus, apps: [...]} or {..., error}: per
// app its settings (cwd and script made absolute as PM2 makes them) and the names of the keys
// of `env` and each `env_*` block, never a value.

const path = require('path');
const os = require('os');
const Module = require('module');

const [file, sha] = process.argv.slice(1);
const name = path.basename(file);

const say = (o) =>
  console.log(JSON.stringify({file: name, sha: sha || null, cpus: os.cpus().length, ...o}));

// module.exports of the source, compiled as if it were FILE (JSON parsed as JSON).
function load(src) {
  if (name.endsWith('.json')) return JSON.parse(src);
  const mod = new Module(file, null);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  mod._compile(src, file);
  return mod.exports;
}

const keys = (o) => (o && typeof o === 'object' ? Object.keys(o) : []);
const str = (v) => (typeof v === 'string' ? v : null);
const num = (v) => (typeof v === 'number' || typeof v === 'string' ? v : null);

function settings(a) {
  const cwd = path.resolve(path.dirname(file), str(a.cwd) || '.');
  return {
    name: str(a.name),
    exec_mode: str(a.exec_mode),
    instances: num(a.instances),
    kill_timeout: num(a.kill_timeout),
    wait_ready: a.wait_ready === true,
    listen_timeout: num(a.listen_timeout),
    cwd,
    script: str(a.script) ? path.resolve(cwd, a.script) : null,
    env_keys: Object.fromEntries(
      Object.keys(a)
        .filter((k) => k === 'env' || k.startsWith('env_'))
        .map((k) => [k, keys(a[k])]),
    ),
  };
}

let src = '';
process.stdin.setEncoding('utf8');
process.stdin
  .on('data', (d) => {
    src += d;
  })
  .on('end', () => {
    let m;
    try {
      m = load(src);
    } catch (e) {
      return say({error: 'node cannot load ' + name + ' (' + (e.code || e.name) + ')'});
    }
    let apps = (m && (m.apps || (m.default && m.default.apps))) || [];
    if (!Array.isArray(apps)) apps = [apps];
    return say({apps: apps.filter((a) => a && typeof a === 'object').map(settings)});
  });
