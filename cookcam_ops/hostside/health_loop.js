// health_loop.js: poll the app's health URL from the host until it answers 200 enough times.
//
// Run on the host as `node -e "$(cat health_loop.js)" URL RETRIES DELAY_MS SHA NEED`
// (deploy/scripts.py):
//   URL       the health URL (the app on 127.0.0.1)
//   RETRIES   how many failed attempts are retried
//   DELAY_MS  the pause after a failed attempt
//   SHA       the commit that must be served ('' for any): when the body is JSON naming a
//             `commit`, it must be this one (either may be abbreviated)
//   NEED      how many 200s in a row pass (100 ms apart)
//
// Prints one JSON line {ok, attempts, detail}; the body is read to 2000 characters and never
// printed, only its commit.

const [url, retries, delay, sha, need] = process.argv.slice(1);
let attempt = 0;
let row = 0; // 200s in a row
let last = ''; // why the last attempt failed

const end = (ok, detail) => console.log(JSON.stringify({ok, attempts: attempt, detail}));

// A failed attempt: start the row again, after DELAY_MS, unless the retries are spent.
function next() {
  row = 0;
  if (attempt > Number(retries)) return end(false, `${last} after ${attempt} attempt(s)`);
  setTimeout(once, Number(delay));
}

// The commit a health body names, if it is JSON with a string `commit`.
function commitOf(body) {
  try {
    const j = JSON.parse(body);
    if (j && typeof j.commit === 'string') return j.commit;
  } catch (e) {
    // not JSON
  }
  return null;
}

function once() {
  attempt++;
  fetch(url, {signal: AbortSignal.timeout(5000)})
    .then(async (r) => {
      const commit = commitOf((await r.text()).slice(0, 2000));
      if (r.status !== 200) {
        last = `HTTP ${r.status}`;
        return next();
      }
      if (sha && commit && commit !== 'unknown' &&
          !(commit.startsWith(sha) || sha.startsWith(commit))) {
        last = `HTTP 200 but it serves commit ${commit.slice(0, 10)}, not ${sha.slice(0, 10)}`;
        return next();
      }
      row++;
      if (row >= Number(need)) {
        return end(true, `${row} x HTTP 200 (${attempt} requests)` +
          (commit ? `, commit ${commit.slice(0, 10)}` : ''));
      }
      setTimeout(once, 100);
    })
    .catch((e) => {
      last = String((e.cause && e.cause.code) || e.name || e);
      next();
    });
}

once();
