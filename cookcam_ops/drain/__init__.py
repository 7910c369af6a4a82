"""`drain`: measure a graceful worker swap under HTTP keep-alive load and open Socket.IO clients."""

from cookcam_ops.drain.judge import Via
from cookcam_ops.drain.service import DrainOptions, run_drain

__all__ = ["DrainOptions", "Via", "run_drain"]
