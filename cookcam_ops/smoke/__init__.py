"""Smoke tests of a running CookCam API: health, Socket.IO auth, the error envelope, load.

The service is `run_smoke(targets, creds, options, progress) -> Report` (checks.py); `plan_smoke`
(plan.py) resolves targets, credentials and options from ops.yaml or a bare --url. Heavy imports
(httpx, socketio, aiohttp) happen inside functions only, so importing this package is cheap.
"""

from __future__ import annotations

from cookcam_ops.smoke.checks import SmokeOptions, run_smoke
from cookcam_ops.smoke.credentials import (
    Credentials,
    PasswordGrant,
    TokenCredentials,
    find_credentials,
)
from cookcam_ops.smoke.plan import SmokePlan, plan_smoke
from cookcam_ops.smoke.targets import SmokeTarget, resolve_targets, url_target

__all__ = [
    "Credentials",
    "PasswordGrant",
    "SmokeOptions",
    "SmokePlan",
    "SmokeTarget",
    "TokenCredentials",
    "find_credentials",
    "plan_smoke",
    "resolve_targets",
    "run_smoke",
    "url_target",
]
