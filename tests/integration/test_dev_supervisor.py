"""The `mlops dev` supervisor stops every process it started, with real processes and signals.

The children here are small Python programs that behave like the servers `make run`
starts: one forks workers, one ignores SIGTERM, one puts a worker in a session of its
own (as a code server may), one dies while its worker lives on.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from mlops_assets.devloop.supervisor import ChildSpec, Supervisor

# A server with two workers that wait forever.
WORKERS = """
import subprocess, sys, time
workers = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]) for _ in range(2)]
time.sleep(600)
"""
# A server that ignores SIGTERM and SIGINT, like one stuck in shutdown.
STUBBORN = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
time.sleep(600)
"""
# A server whose worker runs in a new session: a group signal to the server misses it.
ESCAPED = """
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"], start_new_session=True)
time.sleep(600)
"""
# A server that exits at once and leaves an orphaned worker behind.
ORPHANING = """
import subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
"""


def _child(name: str, code: str, stop_signal: signal.Signals = signal.SIGTERM) -> ChildSpec:
    return ChildSpec(name, [sys.executable, "-c", textwrap.dedent(code)], stop_signal=stop_signal)


def _wait_for_descendants(supervisor: Supervisor, count: int, timeout: float = 20) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [p.pid for p in supervisor.descendants()]
        if len(pids) >= count:
            return pids
        time.sleep(0.1)
    raise AssertionError(f"expected {count} descendants, saw {supervisor.descendants()}")


def _all_gone(pids: list[int]) -> list[int]:
    left = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                left.append(pid)
        except psutil.NoSuchProcess:
            pass
    return left


def test_stop_ends_workers_stubborn_servers_and_escaped_sessions_within_the_grace_time():
    supervisor = Supervisor(
        [
            _child("workers", WORKERS, signal.SIGINT),
            _child("stubborn", STUBBORN),
            _child("escaped", ESCAPED),
        ],
        grace_seconds=1.0,
        log=lambda _m: None,
    )
    supervisor.start()
    try:
        # workers + 2 workers, stubborn, escaped + its worker
        pids = _wait_for_descendants(supervisor, 6)
        started = time.monotonic()
        supervisor.stop()
        took = time.monotonic() - started
        assert _all_gone(pids) == []
        assert took < 8, f"stop took {took:.1f} s"
    finally:
        for pid in supervisor.pids().values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def test_a_child_that_exits_stops_the_others_and_its_orphans(tmp_path: Path):
    """One server dying takes the rest down (exit 1), orphans of the dead one included."""
    script = tmp_path / "supervise.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import signal, sys, time
            from mlops_assets.devloop.supervisor import ChildSpec, Supervisor
            sleeper = [sys.executable, "-c", "import time; time.sleep(600)"]
            orphaning = [sys.executable, "-c", {textwrap.dedent(ORPHANING)!r}]
            def delayed(argv):
                return [sys.executable, "-c", "import os, sys, time; time.sleep(3); os.execv(sys.argv[1], sys.argv[1:])", *argv]
            supervisor = Supervisor([ChildSpec("sleeper", sleeper), ChildSpec("orphaning", delayed(orphaning))], grace_seconds=1.0)
            supervisor.start()
            sys.exit(supervisor.wait())
            """
        )
    )
    process = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=Path(__file__).resolve().parents[2],
        start_new_session=True,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen: set[int] = set()
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline:
            try:
                seen |= {p.pid for p in psutil.Process(process.pid).children(recursive=True)}
            except psutil.NoSuchProcess:
                break
            time.sleep(0.05)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 1, stderr
        assert "orphaning exited with code 0" in stderr
        assert len(seen) >= 3, seen  # sleeper, orphaning, its orphan
        assert _all_gone(sorted(seen)) == []
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_the_supervisor_stops_every_descendant(tmp_path: Path, signum: int):
    script = tmp_path / "supervise.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            from mlops_assets.devloop.supervisor import ChildSpec, Supervisor
            children = [
                ChildSpec("workers", [sys.executable, "-c", {textwrap.dedent(WORKERS)!r}]),
                ChildSpec("stubborn", [sys.executable, "-c", {textwrap.dedent(STUBBORN)!r}]),
            ]
            supervisor = Supervisor(children, grace_seconds=1.0)
            sys.exit(supervisor.run())
            """
        )
    )
    process = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=Path(__file__).resolve().parents[2],
        start_new_session=True,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        pids: list[int] = []
        while len(pids) < 4 and time.monotonic() < deadline:
            pids = [p.pid for p in psutil.Process(process.pid).children(recursive=True)]
            time.sleep(0.1)
        assert len(pids) == 4, pids
        os.killpg(process.pid, signum)  # what Ctrl+C sends: the terminal's whole process group
        process.wait(timeout=10)
        assert process.returncode == 0, process.stderr.read()
        assert _all_gone(pids) == []
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def test_a_second_ctrl_c_kills_at_once_without_waiting_the_grace_time(tmp_path: Path):
    script = tmp_path / "supervise.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            from mlops_assets.devloop.supervisor import ChildSpec, Supervisor
            stubborn = ChildSpec("stubborn", [sys.executable, "-c", {textwrap.dedent(STUBBORN)!r}])
            supervisor = Supervisor([stubborn], grace_seconds=60.0)
            sys.exit(supervisor.run())
            """
        )
    )
    process = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=Path(__file__).resolve().parents[2],
        start_new_session=True,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        pids: list[int] = []
        while not pids and time.monotonic() < deadline:
            pids = [p.pid for p in psutil.Process(process.pid).children(recursive=True)]
            time.sleep(0.1)
        time.sleep(0.5)  # the stubborn child has set its signal handlers
        os.killpg(process.pid, signal.SIGINT)
        time.sleep(0.5)
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=10)
        assert _all_gone(pids) == []
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def test_processes_the_host_started_itself_are_left_alone():
    """In a process that also runs other servers (a test session), only the family is stopped."""
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    supervisor = Supervisor([_child("workers", WORKERS)], grace_seconds=1.0, log=lambda _m: None)
    supervisor.start()
    try:
        pids = _wait_for_descendants(supervisor, 3)
        assert bystander.pid not in pids
        supervisor.stop()
        assert _all_gone(pids) == []
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()
