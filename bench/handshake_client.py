"""Our side of figure 5: the smoke check's asyncio client path, TOTAL handshakes, C at a time.

Each handshake is what `smoke`'s socket-auth checks do (cookcam_ops.smoke.socket_checks: a
new AsyncClient over websocket with auth {token}, waiting for `connected`), then the client is
closed. The token comes on stdin. Usage: python -m bench.handshake_client URL TOTAL C TIMEOUT_S
Prints one JSON line: {"ok", "failed", "seconds"}.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from cookcam_ops.smoke.judge import Outcome
from cookcam_ops.smoke.socket_checks import close, handshake, new_client


async def _run(url: str, token: str, total: int, concurrency: int, timeout_s: float) -> None:
    remaining = iter(range(total))
    ok = 0

    async def worker() -> None:
        nonlocal ok
        for _ in remaining:
            client = new_client()
            try:
                result = await handshake(client, url, token, timeout_s)
            finally:
                await close(client)
            ok += result.outcome is Outcome.CONNECTED

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    print(json.dumps({"ok": ok, "failed": total - ok, "seconds": seconds}))


def main() -> None:
    url, total, concurrency, timeout_s = sys.argv[1:5]
    token = sys.stdin.read().strip()
    asyncio.run(_run(url, token, int(total), int(concurrency), float(timeout_s)))


if __name__ == "__main__":
    main()
