"""`drain`: measure a graceful worker swap under HTTP keep-alive load and open Socket.IO clients."""

from cookcam_ops.drain.service import VIAS, DrainOptions, run_drain

__all__ = ["VIAS", "DrainOptions", "run_drain"]
