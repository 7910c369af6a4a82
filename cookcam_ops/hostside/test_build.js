// test_build.js: start a fresh build aside on a spare port and check that it comes up.
//
// Run on the host in the app's directory (for its .env) or a release's, as
// `node -e "$(cat test_build.js)" SCRIPT MS HEALTH_PATH EXPECT` (deploy/scripts.py):
//   SCRIPT       the built entry point (BUILD/dist/index.js)
//   MS           the deadline in milliseconds
//   HEALTH_PATH  the path that must answer 200 (e.g. /health)
//   EXPECT       a line the app prints once its environment is validated
//
// The build runs with NODE_ENV=production and PORT set to a free port on 127.0.0.1. It passes
// once EXPECT appeared on its output and HEALTH_PATH answered 200; an answer other than 200 for
// 5 s fails at once; so does the build exiting. The build is then stopped (SIGTERM, SIGKILL
// after 10 s). Prints one JSON line {ok, validated, port, detail} and exits 0; the detail
// quotes at most the last 3 lines of the build's output.

const {spawn} = require('child_process');
const net = require('net');

const [script, ms, hpath, expect] = process.argv.slice(1);
const deadline = Date.now() + Number(ms);
let child = null;
let out = ''; // the build's last 4000 characters of output
let validated = false; // EXPECT was seen
let done = false;
let port = 0;
let last = ''; // what the last health request got
let answered = 0; // when the build first answered something other than 200

const tail = () => out.trim().split('\n').slice(-3).join(' | ').slice(-400);

function finish(ok, detail) {
  if (done) return;
  done = true;
  const report = () => {
    console.log(JSON.stringify({ok, validated, port, detail}));
    process.exit(0);
  };
  if (child && child.exitCode === null && child.signalCode === null) {
    child.once('exit', report);
    child.kill('SIGTERM');
    setTimeout(() => {
      try {
        child.kill('SIGKILL');
      } catch (e) {
        // already gone
      }
    }, 10000).unref();
  } else {
    report();
  }
}

for (const s of ['SIGHUP', 'SIGTERM', 'SIGINT']) process.on(s, () => finish(false, 'interrupted'));

function poll() {
  if (done) return;
  if (Date.now() > deadline) {
    return finish(
      false,
      validated
        ? `${hpath} did not answer 200 in time (${last})`
        : `no '${expect}' line in time; output: ${tail()}`,
    );
  }
  if (!validated) return setTimeout(poll, 200);
  fetch(`http://127.0.0.1:${port}${hpath}`, {signal: AbortSignal.timeout(2000)})
    .then((r) => {
      if (r.status === 200) {
        return finish(true, `'${expect}', ${hpath} answered 200 on spare port ${port}`);
      }
      last = `HTTP ${r.status}`;
      answered = answered || Date.now();
      if (Date.now() - answered > 5000) return finish(false, `${hpath} answered ${last} for 5s`);
      setTimeout(poll, 250);
    })
    .catch((e) => {
      last = String((e.cause && e.cause.code) || e.name);
      setTimeout(poll, 250);
    });
}

// A free port: listen on port 0, note what the kernel gave, close, start the build on it.
const srv = net.createServer();
srv.listen(0, '127.0.0.1', () => {
  port = srv.address().port;
  srv.close(() => {
    child = spawn(process.execPath, [script], {
      env: {...process.env, NODE_ENV: 'production', PORT: String(port)},
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const take = (d) => {
      out = (out + d).slice(-4000);
      if (!validated && out.includes(expect)) validated = true;
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('exit', (c, s) =>
      finish(false, `the build exited (${s || 'code ' + c}) before it was healthy: ${tail()}`),
    );
    poll();
  });
});
