"""Canary deploys and `watch`: sample the seed's success metrics on hosts, and judge them.

`settings` (ops.yaml's `canary:`), `metrics` (rules and verdicts, pure), `tally` (a host's
samples into figures, pure), `hostside` (the one round trip per host per sample, and its
script in `host/`), `sampler` (one host's sample: HTTP, Socket.IO, PM2), `bake` (the deploy
engine's bake hook) and `watch` (the standalone command's service). Importing this package is
cheap: httpx and socketio load inside the functions that use them.
"""
