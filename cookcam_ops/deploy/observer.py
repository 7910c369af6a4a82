"""How deploy and rollback report progress: an observer the caller hands in (services never print).

Methods are called from worker threads (one per host in a batch); implementations must be
thread-safe. Every text passed is plain text, never markup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from cookcam_ops.canary.view import SampleView
    from cookcam_ops.deploy.result import StepResult


class Phases(Protocol):
    """Receives run-wide messages (all a Fleet needs: `watch` connects with one too)."""

    def phase(self, message: str) -> None:
        """A run-wide message: connecting, locking, a batch starting, an interrupt."""


class DeployObserver(Phases, Protocol):
    """Receives progress: run phases, and each host's steps as they start and finish."""

    def step_started(self, host: str, step: str) -> None:
        """A step begins on a host."""

    def step_output(self, host: str, stream: str, line: str) -> None:
        """A line of the running step's output ("out" or "err"), masked, as it arrives."""

    def step_finished(self, host: str, result: StepResult) -> None:
        """A step ended on a host (ok, failed or skipped)."""

    def host_finished(self, host: str, outcome: str) -> None:
        """A host is done: deployed, rolled_back, rollback_failed, failed, unreachable."""

    def sampled(self, view: SampleView) -> None:
        """A canary's bake took a round of samples (deploy --canary): the table so far."""


class NullObserver:
    """An observer that ignores everything (tests, library use)."""

    def phase(self, message: str) -> None:
        return None

    def step_started(self, host: str, step: str) -> None:
        return None

    def step_output(self, host: str, stream: str, line: str) -> None:
        return None

    def step_finished(self, host: str, result: StepResult) -> None:
        return None

    def host_finished(self, host: str, outcome: str) -> None:
        return None

    def sampled(self, view: SampleView) -> None:
        return None


class Observers:
    """Several observers as one (the progress display and the run log, say)."""

    def __init__(self, *observers: DeployObserver) -> None:
        self.observers = observers

    def phase(self, message: str) -> None:
        for o in self.observers:
            o.phase(message)

    def step_started(self, host: str, step: str) -> None:
        for o in self.observers:
            o.step_started(host, step)

    def step_output(self, host: str, stream: str, line: str) -> None:
        for o in self.observers:
            o.step_output(host, stream, line)

    def step_finished(self, host: str, result: StepResult) -> None:
        for o in self.observers:
            o.step_finished(host, result)

    def host_finished(self, host: str, outcome: str) -> None:
        for o in self.observers:
            o.host_finished(host, outcome)

    def sampled(self, view: SampleView) -> None:
        for o in self.observers:
            o.sampled(view)
