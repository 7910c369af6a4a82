// package_engines.js: the `engines` field of the app's package.json.
//
// Run on the host in the app's directory as `node -e "$(cat package_engines.js)"`
// (checklist/remote.py). Prints {"engines": {...}} or {"engines": null}; nothing else of the
// file leaves the host.

try {
  const p = require(require('path').resolve('package.json'));
  console.log(JSON.stringify({engines: p.engines || null}));
} catch (e) {
  console.log(JSON.stringify({engines: null}));
}
