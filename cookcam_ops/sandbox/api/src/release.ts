// The release counter: every release bumps it. The version is derived from it instead of
// package.json so that a release never changes package-lock.json.
export const RELEASE = 1;

export const VERSION = `1.0.${RELEASE}`;
