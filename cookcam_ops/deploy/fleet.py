"""The hosts of one run: connected together, locked together, released together.

`Fleet` is a context manager: however the run ends (success, failure, exception, Ctrl-C), every
lock this run took is released (reconnecting to hosts whose connection dropped) and every
connection is closed. `interrupts` turns SIGINT, SIGTERM and SIGHUP into a cancel flag the
engine checks at safe points, instead of an exception at an arbitrary line.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any, Generic, TypeVar

from cookcam_ops.common import parallel_map
from cookcam_ops.deploy import audit, lock
from cookcam_ops.deploy.facts import FactsQuery, HostFacts, gather_facts, parse_facts
from cookcam_ops.deploy.observer import Phases
from cookcam_ops.deploy.session import Connector, Cuts, HostSession
from cookcam_ops.errors import HostError, OpsError, Unreachable
from cookcam_ops.remote.fanout import Target
from cookcam_ops.remote.protocol import Transport

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
Obs = TypeVar("Obs", bound=Phases)  # the run's observer: a DeployObserver, or watch's
# What each host runs in the lock's round trip once its lock is taken (deploy: its facts and the
# checklist's server half).
HostWork = Callable[[Target], lock.Then]


class Fleet(Generic[Obs]):
    """Sessions to every target, and the locks this run holds on them."""

    def __init__(self, targets: list[Target], connector: Connector, observer: Obs) -> None:
        self.sessions = {t.label: HostSession(t, connector) for t in targets}
        self.observer = observer
        self.locked: list[str] = []
        self.claim: lock.LockClaim | None = None
        self.pending = audit.Pending()  # each host's last records: written with its release

    @property
    def targets(self) -> list[Target]:
        """Every host's target, as its probe found it once connected."""
        return [s.target for s in self.sessions.values()]

    @property
    def run_id(self) -> str:
        return self.claim.run_id if self.claim else ""

    def __enter__(self) -> Fleet[Obs]:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.release_all()
        finally:
            for s in self.sessions.values():
                s.close()

    def open_hosts(self) -> list[tuple[Transport, Target]]:
        """Each connected host's transport and target (for work that takes a Transport)."""
        return [(s.transport, s.target) for s in self.sessions.values()]

    def connect_all(self) -> None:
        """Connect to every host in parallel; HostError (exit 3) names the first that failed."""
        self.observer.phase(f"connecting to {len(self.targets)} host(s)")
        sessions = list(self.sessions.values())
        results = parallel_map(sessions, _connect)
        errors = [e for e in results if e]
        if errors:
            more = f" (and {len(errors) - 1} more host(s))" if len(errors) > 1 else ""
            failed = tuple(u for e in errors for u in e.hosts) or tuple(
                Unreachable(s.label, e.message) for s, e in zip(sessions, results, strict=True) if e
            )
            answered = tuple(s.label for s, e in zip(sessions, results, strict=True) if not e)
            raise HostError(
                f"{errors[0].message}{more}; nothing was changed",
                hint=errors[0].hint,
                hosts=failed,
                answered=answered,
            )

    def lock_all(
        self, claim: lock.LockClaim, environment: str, then: HostWork | None = None
    ) -> dict[str, str]:
        """Take the lock on every host, or release the ones taken and raise; with then, each
        host also runs then's command once its lock is taken: the outputs by host.

        The first host in lock_order is taken first and alone (a run that finds it held stops
        at once with LockHeld, exit 5), then the others in parallel, each waited for a short
        while. A lock that cannot be written stops the run too (ChecksFailed naming the disk).
        then's command runs in each follower's lock request; the leader's lock must be known
        before any other host is tried, so with followers the leader runs it in a request of
        its own, beside theirs (a lone host: in its lock's request).
        """
        self.observer.phase("taking the deploy lock on every host")
        self.claim = claim
        leader, *rest = sorted(self.sessions.values(), key=lambda s: lock.lock_order(s.target))
        out = self._take([leader], claim, environment, wait_s=0.0, then=None if rest else then)
        if not rest:
            return out

        def followers() -> dict[str, str]:
            return self._take(rest, claim, environment, wait_s=lock.FOLLOWER_WAIT_S, then=then)

        if then is None:
            return {**out, **followers()}

        def leaders_work() -> dict[str, str]:
            assert then is not None
            return {leader.label: _run_work(leader, then)}

        parts = parallel_map([leaders_work, followers], lambda part: part())
        return {**parts[0], **parts[1]}

    def _take(
        self,
        sessions: list[HostSession],
        claim: lock.LockClaim,
        environment: str,
        *,
        wait_s: float,
        then: HostWork | None,
    ) -> dict[str, str]:
        def take(s: HostSession) -> tuple[str, lock.Attempt | OpsError]:
            work = then(s.target) if then is not None else lock.Then()
            try:
                return s.label, lock.acquire(
                    s, s.label, s.target.ops_dir, claim, wait_s=wait_s, then=work
                )
            except OpsError as e:
                return s.label, e

        results = parallel_map(sessions, take)
        # a connection lost mid-answer may have left the lock taken: releasing is a no-op
        # where this run does not hold it
        self.locked += [
            label
            for label, got in results
            if isinstance(got, HostError) or (isinstance(got, lock.Attempt) and got.acquired)
        ]
        for label, got in results:
            if isinstance(got, HostError):
                self.release_all()
                raise HostError(
                    f"{got.message}; nothing was changed",
                    hint=got.hint,
                    hosts=got.hosts or (Unreachable(label, got.message),),
                    answered=tuple(
                        x for x, h in results if x != label and not isinstance(h, HostError)
                    ),
                )
            if isinstance(got, OpsError):
                self.release_all()
                raise got
        for label, got in results:
            if isinstance(got, lock.Attempt) and got.holder is not None:
                self.release_all()
                raise lock.held_error(label, got.holder, environment)
        return {
            label: got.output
            for label, got in results
            if isinstance(got, lock.Attempt) and got.acquired
        }

    def run_all(self, work: HostWork) -> dict[str, str]:
        """work's command on every host in parallel (no lock): the outputs by host."""

        return dict(
            parallel_map(list(self.sessions.values()), lambda s: (s.label, _run_work(s, work)))
        )

    def gather(
        self, query: FactsQuery, timeout: float, answered: dict[str, str] | None = None
    ) -> dict[str, HostFacts]:
        """Facts from every host, one round trip each, in parallel; from answered (the output
        of the facts script a host ran in the lock's round trip) where given."""
        self.observer.phase("gathering facts (one round trip per host)")

        def one(s: HostSession) -> HostFacts:
            if answered is not None and s.label in answered:
                return parse_facts(s.label, answered[s.label], query)
            return gather_facts(s, s.target, query, timeout=timeout)

        return {f.label: f for f in parallel_map(list(self.sessions.values()), one)}

    def release_all(self) -> None:
        """Release this run's locks (reconnecting where needed), each in one round trip with
        the host's pending audit records (written first; a failed write still releases the
        lock and is reported); never raises."""
        claim, locked, self.locked = self.claim, self.locked, []
        if claim is None or not locked:
            return

        def free(s: HostSession) -> None:
            records = self.pending.take(s.label)
            before = audit.append_command(s.target.ops_dir, *records) if records else ""
            try:
                reachable = s.ensure()
                if reachable and not lock.release(s, s.target.ops_dir, claim.run_id, before):
                    self.observer.phase(
                        f"{s.label}: could not write this run's audit record to "
                        f"{audit.history_path(s.target.ops_dir)}; the lock was released"
                    )
            except HostError:
                reachable = False
            if not reachable:
                lost = " (nor write this run's audit record)" if records else ""
                self.observer.phase(
                    f"{s.label}: could not release the lock{lost} (unreachable); "
                    "run `cookcam-ops unlock` when it is back"
                )

        # the others first, the leader (taken first) last: a run that gets the leader next
        # finds the rest free
        leader, *others = locked
        parallel_map([self.sessions[label] for label in others], free)
        free(self.sessions[leader])


def _run_work(s: HostSession, work: HostWork) -> str:
    """work's command on one host, on its own (no lock): its output."""
    then = work(s.target)
    return s.run(then.command, timeout=then.timeout).stdout


def _connect(s: HostSession) -> HostError | None:
    try:
        s.connect()
    except HostError as e:
        return e
    return None


class InterruptGuard:
    """Signals set `cancel` (the engine stops at its next safe point) instead of raising.

    A second signal cuts the steps still running before their host's switch (a long `npm ci`,
    say): nothing those hosts serve has changed, so cutting them is safe. Steps at or after a
    switch are never cut; they run to their end and are put back.
    """

    def __init__(
        self, cancel: threading.Event, on_signal: Callable[[str], None], cuts: Cuts | None = None
    ) -> None:
        self.cancel = cancel
        self.on_signal = on_signal
        self.cuts = cuts or Cuts()
        self.saved: dict[int, Any] = {}

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if not self.cancel.is_set():
            self.cancel.set()
            self._say(
                f"{name}: stopping at the next safe point, then putting back what "
                "changed and releasing the locks (again to cut steps that run "
                "before a switch)"
            )
            return
        cut = self.cuts.cut_all()
        self._say(
            f"{name} again: cutting {', '.join(cut)} (before the switch, nothing served changed)"
            if cut
            else f"{name} again: no host is before its "
            "switch; waiting for the steps that must finish"
        )

    def _say(self, line: str) -> None:
        """Report from another thread: the handler runs between two bytecodes of the main
        thread, which may be inside a write to the same stream (Python raises RuntimeError,
        "reentrant call", when a handler writes to a buffered stream that write holds)."""
        threading.Thread(
            target=self.on_signal, args=(line,), name="signal-note", daemon=True
        ).start()

    def install(self) -> None:
        """Take over the signals (main thread only: elsewhere Python cannot)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in SIGNALS:
            self.saved[sig] = signal.signal(sig, self._handler)

    def restore(self) -> None:
        """Give the signals back to their previous handlers."""
        for sig, old in self.saved.items():
            signal.signal(sig, old)
        self.saved = {}

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Default signal behaviour for a while (a prompt: Ctrl-C must interrupt the input)."""
        saved = dict(self.saved)
        self.restore()
        try:
            yield
        finally:
            if saved:
                self.install()


@contextmanager
def interrupts(
    cancel: threading.Event, on_signal: Callable[[str], None], cuts: Cuts | None = None
) -> Iterator[InterruptGuard]:
    """Install an InterruptGuard for the duration of a run."""
    guard = InterruptGuard(cancel, on_signal, cuts)
    guard.install()
    try:
        yield guard
    finally:
        guard.restore()
