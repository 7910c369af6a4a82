"""Reaching hosts: a small transport protocol, and its SSH implementation (Fabric/paramiko)."""

from cookcam_ops.remote.protocol import RunResult, Transport, q

__all__ = ["RunResult", "Transport", "q"]
