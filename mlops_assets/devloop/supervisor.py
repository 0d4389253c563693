"""A process supervisor for the local platform: start children, and stop every one of them.

`make run` starts several servers (dagster dev with its webserver, daemon and code
servers; the MLflow server with its uvicorn workers; the metrics exporter). Each
child starts in its own session, so Ctrl+C in the terminal reaches only the
supervisor, which then stops the children in order:

1. send each child's process group its stop signal (SIGINT for dagster dev, the
   signal it treats as Ctrl+C; SIGTERM for the others), and SIGTERM to any
   descendant that left its server's process group;
2. wait up to `grace_seconds` for every descendant to exit;
3. SIGKILL whatever is left: each child's process group and every descendant pid,
   including processes that moved to their own session.

On Linux the supervisor is a child subreaper, so a grandchild whose parent died
first is re-parented to it rather than to init. Every child also carries a mark
in its environment (`MLOPS_DEV_SUPERVISOR`), inherited by whatever it starts, so
at stop time a process that left the tree is still recognized as one of ours;
nothing else the calling process started is ever signalled.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import psutil

_PR_SET_CHILD_SUBREAPER = 36
# Set in every child's environment (and so inherited by everything it starts): how the
# supervisor recognizes its own processes even after they left its process tree.
FAMILY_ENV = "MLOPS_DEV_SUPERVISOR"


@dataclass(frozen=True)
class ChildSpec:
    """One server to run: a name for messages, its command line, and how to ask it to stop."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] | None = None
    cwd: str | None = None
    stop_signal: signal.Signals = signal.SIGTERM


@dataclass
class _Running:
    spec: ChildSpec
    process: subprocess.Popen


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux `PR_SET_CHILD_SUBREAPER`); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def say(message: str) -> None:
    """One line for the operator's terminal, marked as the supervisor's."""
    print(f"[mlops dev] {message}", file=sys.stderr, flush=True)


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@dataclass
class Supervisor:
    """Runs child servers until a signal or a child's exit, then stops them all within seconds."""

    children: Sequence[ChildSpec]
    grace_seconds: float = 5.0
    log: Callable[[str], None] = field(default=lambda message: say(message))
    _running: list[_Running] = field(default_factory=list, init=False)
    _signal: int | None = field(default=None, init=False)
    _hurry: bool = field(default=False, init=False)
    _family: dict[int, psutil.Process] = field(default_factory=dict, init=False)
    _token: str = field(default_factory=lambda: f"{os.getpid()}-{uuid.uuid4().hex}", init=False)

    def start(self) -> None:
        """Start every child in its own session (its own process group)."""
        become_subreaper()
        for spec in self.children:
            env = dict(os.environ if spec.env is None else spec.env)
            env[FAMILY_ENV] = self._token
            process = subprocess.Popen(
                list(spec.argv),
                env=env,
                cwd=spec.cwd,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            self._running.append(_Running(spec, process))

    def pids(self) -> dict[str, int]:
        """The pid of each child by name (each is also its process group id)."""
        return {r.spec.name: r.process.pid for r in self._running}

    def returncodes(self) -> dict[str, int | None]:
        """Each child's exit code by name; None while it runs."""
        return {r.spec.name: r.process.poll() for r in self._running}

    def descendants(self, marked: bool = False) -> list[psutil.Process]:
        """Every live process this supervisor started or that descends from one.

        Processes seen once stay in the family after their parent dies (orphans, adopted
        by the subreaper), so they are found again; nothing else the calling process
        started is ever included. With `marked`, also every process whose environment
        carries this supervisor's mark, wherever it is now (slower: reads each environment).
        """
        children_of: dict[int, list[int]] = {}
        for process in psutil.process_iter(["ppid"]):
            children_of.setdefault(process.info["ppid"], []).append(process.pid)
            if marked and process.pid not in self._family:
                with contextlib.suppress(psutil.Error):
                    if process.environ().get(FAMILY_ENV) == self._token:
                        self._family[process.pid] = process
        stack = [r.process.pid for r in self._running]
        stack += [pid for pid, p in self._family.items() if _alive(p)]
        visited: set[int] = set()
        while stack:
            pid = stack.pop()
            if pid in visited:
                continue
            visited.add(pid)
            if pid not in self._family:
                try:
                    self._family[pid] = psutil.Process(pid)
                except psutil.NoSuchProcess:
                    continue
            stack += children_of.get(pid, [])
        return [p for p in self._family.values() if _alive(p)]

    def _on_signal(self, signum: int, _frame: object) -> None:
        if self._signal is not None:  # a second Ctrl+C: no more waiting
            self._hurry = True
        self._signal = signum

    @contextlib.contextmanager
    def _signals_handled(self) -> Iterator[None]:
        """SIGINT, SIGTERM and SIGHUP mean "stop everything" while inside; restored after."""
        previous = {
            sig: signal.signal(sig, self._on_signal)
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        }
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def run(self, poll_seconds: float = 0.5) -> int:
        """Start every child, then `wait`; a signal during the start is not lost either."""
        with self._signals_handled():
            self.start()
            return self._watch(poll_seconds)

    def wait(self, poll_seconds: float = 0.5) -> int:
        """Block until SIGINT, SIGTERM or SIGHUP, or until a child exits; then stop them all.

        Returns 0 after a signal, 1 when a child exited by itself (it is named in the log).
        """
        with self._signals_handled():
            return self._watch(poll_seconds)

    def _watch(self, poll_seconds: float) -> int:
        exited: _Running | None = None
        while self._signal is None and exited is None:
            exited = next((r for r in self._running if r.process.poll() is not None), None)
            self.descendants()  # keeps the family known before anyone is orphaned
            self._reap_orphans()
            time.sleep(poll_seconds)
        if exited is not None:
            self.log(
                f"{exited.spec.name} exited with code {exited.process.returncode}; "
                "stopping the others"
            )
        else:
            self.log(f"got {signal.Signals(self._signal).name}; stopping every server")
        self.stop()
        return 0 if exited is None else 1

    def stop(self) -> None:
        """Stop every child and descendant: its stop signal first, SIGKILL after the grace time."""
        known = {p.pid: p for p in self.descendants(marked=True)}
        groups = {running.process.pid for running in self._running}
        for running in self._running:
            self._signal_group(running.process.pid, running.spec.stop_signal)
        for process in known.values():  # workers that left their server's process group
            with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):
                if os.getpgid(process.pid) not in groups:
                    process.terminate()
        deadline = time.monotonic() + self.grace_seconds
        while time.monotonic() < deadline and not self._hurry:
            self._reap_orphans()
            known.update({p.pid: p for p in self.descendants()})
            if not any(_alive(p) for p in known.values()):
                break
            time.sleep(0.1)
        left = [
            p
            for p in {**known, **{p.pid: p for p in self.descendants(marked=True)}}.values()
            if _alive(p)
        ]
        if left:
            self.log(f"killing {len(left)} process(es) still running after {self.grace_seconds}s")
        for running in self._running:
            self._signal_group(running.process.pid, signal.SIGKILL)
        _kill(left)
        for running in self._running:
            with contextlib.suppress(subprocess.TimeoutExpired):
                running.process.wait(timeout=5)
        psutil.wait_procs(left, timeout=5)
        self._reap_orphans()

    @staticmethod
    def _signal_group(pgid: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    def _reap_orphans(self) -> None:
        """Collect the exit status of adopted orphans of the family, so none stays a zombie."""
        mine = {r.process.pid for r in self._running}
        try:
            direct = psutil.Process().children()
        except psutil.NoSuchProcess:
            return
        for process in direct:
            if process.pid in mine or process.pid not in self._family:
                continue
            with contextlib.suppress(ChildProcessError, psutil.NoSuchProcess):
                if process.status() == psutil.STATUS_ZOMBIE:
                    os.waitpid(process.pid, os.WNOHANG)


def _kill(processes: Iterable[psutil.Process]) -> None:
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
