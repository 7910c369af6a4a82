// health_get.js: one GET of a URL from the host itself (the app's health endpoint).
//
// Run on the host as `node -e "$(cat health_get.js)" URL` (remote/composite.py). node:http,
// not fetch: fetch refuses "bad ports" an app may well use. Certificates are not checked (the
// app on 127.0.0.1 may serve a certificate for its public name).
//
// Prints one JSON line: {status, ms, body} (the body's first 300 characters) or {error}.

const t0 = Date.now();
const u = new URL(process.argv[1]);
const client = u.protocol === 'https:' ? require('https') : require('http');

const req = client.get(u, {timeout: 5000, rejectUnauthorized: false}, (res) => {
  let body = '';
  res.setEncoding('utf8');
  res
    .on('data', (d) => {
      if (body.length < 300) body += d;
    })
    .on('end', () =>
      console.log(JSON.stringify({status: res.statusCode, ms: Date.now() - t0,
        body: body.slice(0, 300)})),
    );
});
req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), {code: 'ETIMEDOUT'})));
req.on('error', (e) => console.log(JSON.stringify({error: String(e.code || e.message)})));
