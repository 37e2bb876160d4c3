"""The parent of ``--workers N``: start the workers, restart the ones that die, pass signals
on, stop them all (docs/scaling.md, SV-02).

Theory of operation
-------------------
The parent forks one process per worker slot and never runs an event loop itself, so a fork
always happens from a plain, single-threaded process. It waits in ``select`` on two kinds of
pipes: each worker's readiness pipe (one byte once the worker listens, end of file when it
exits) and a wake-up pipe that every handled signal writes to (``signal.set_wakeup_fd``).
After each wake-up it runs the signals that arrived, reaps the workers that ended
(``waitpid(WNOHANG)``) and starts the replacements that are due.

* Start: every slot is forked at once. Until all of them are ready, a worker that exits
  without having become ready ends the whole start (exit 1): the same configuration fails in
  every worker, as it would in the single-process server. Once all are ready the pid file is
  written with the parent's pid.
* Restart: a worker that dies later is replaced in the same slot (same number, same node
  name, new node uid), after the slot's back-off (backoff.py).
* SIGTERM / SIGINT: every worker gets SIGTERM and shuts down as the single process does
  (3001 to its clients, ``shutdown.timeout``); a worker still running ``grace`` seconds after
  that timeout is killed. The parent exits 0, or 1 when it had to kill one.
* SIGHUP is passed on to every worker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import sys
import time
import traceback
from collections.abc import Callable

from centripetal.workers.backoff import RestartBackoff

__all__ = ["Supervisor", "describe_status"]

logger = logging.getLogger("centripetal.workers")

HANDLED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD)
KILL_WAIT = 5.0  # seconds to reap workers after SIGKILL before giving up on them


def describe_status(status: int) -> str:
    """``exited with code 1`` / ``was killed by SIGKILL`` for a ``waitpid`` status."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return f"was killed by {name}"
    return f"exited with code {os.waitstatus_to_exitcode(status)}"


class _Slot:
    """One worker number and the process that currently fills it."""

    __slots__ = (
        "backoff", "ever_ready", "index", "pid", "ready", "ready_fd", "restart_at", "started"
    )  # fmt: skip

    def __init__(self, index: int, backoff: RestartBackoff) -> None:
        self.index = index
        self.backoff = backoff
        self.pid = 0  # 0: no process
        self.ready_fd = -1
        self.ready = False
        self.ever_ready = False
        self.restart_at: float | None = None
        self.started = 0.0  # time.monotonic() of the current process's start


class Supervisor:
    """Run ``count`` workers until SIGTERM/SIGINT; ``body(index, ready_fd)`` runs in each
    forked worker and returns its exit code (it writes a byte to ``ready_fd`` once ready)."""

    def __init__(
        self,
        count: int,
        body: Callable[[int, int], int],
        *,
        stop_timeout: float,
        pid_file: str = "",
        grace: float = 5.0,
        backoff: Callable[[], RestartBackoff] = RestartBackoff,
    ) -> None:
        self.slots = [_Slot(i + 1, backoff()) for i in range(count)]
        self._body = body
        self._stop_timeout = stop_timeout
        self._grace = grace
        self._pid_file = pid_file
        self._signals: list[int] = []
        self._starting = True
        self._stopping = False
        self._deadline: float | None = None
        self._killed = False
        self._failed = False
        self._wake = (-1, -1)

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> int:
        """Start the workers and supervise them; return the parent's exit code."""
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        self._wake = (wake_r, wake_w)
        previous_wakeup = signal.set_wakeup_fd(wake_w)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in HANDLED}
        try:
            for slot in self.slots:
                if not self._stopping:
                    self._start(slot)
            return self._loop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            signal.set_wakeup_fd(previous_wakeup)
            for slot in self.slots:
                self._close_ready(slot)
            os.close(wake_r)
            os.close(wake_w)

    def _on_signal(self, signum: int, frame: object) -> None:
        self._signals.append(signum)

    def _loop(self) -> int:
        wake_r = self._wake[0]
        while True:
            if self._stopping and not any(slot.pid for slot in self.slots):
                return 1 if self._killed or self._failed else 0
            fds = [wake_r] + [slot.ready_fd for slot in self.slots if slot.ready_fd >= 0]
            readable = select.select(fds, [], [], self._timeout())[0]
            if wake_r in readable:
                with contextlib.suppress(BlockingIOError):
                    while os.read(wake_r, 512):
                        pass
            for slot in self.slots:
                if slot.ready_fd in readable:
                    self._read_ready(slot)
            self._handle_signals()
            self._reap()
            self._tick()

    def _timeout(self) -> float | None:
        now = time.monotonic()
        if self._stopping:
            return None if self._deadline is None else max(0.0, self._deadline - now)
        due = [slot.restart_at for slot in self.slots if slot.restart_at is not None]
        return max(0.0, min(due) - now) if due else None

    def _tick(self) -> None:
        now = time.monotonic()
        if self._stopping:
            if self._deadline is not None and now >= self._deadline:
                self._kill_remaining()
            return
        for slot in self.slots:
            if slot.restart_at is not None and now >= slot.restart_at:
                slot.restart_at = None
                self._start(slot)
        if self._starting and all(slot.ready for slot in self.slots):
            self._starting = False
            try:
                if self._pid_file:
                    with open(self._pid_file, "w") as fh:
                        fh.write(str(os.getpid()))
            except OSError as exc:
                logger.error("pid_file: cannot write %s: %s; stopping", self._pid_file, exc)
                self._failed = True
                self._stop()
                return
            logger.info("all %d workers are serving", len(self.slots))

    # -- workers ----------------------------------------------------------------------------

    def _start(self, slot: _Slot) -> None:
        _flush_output()
        try:
            read_fd, write_fd = os.pipe()
        except OSError as exc:
            self._retry(slot, exc)
            return
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(read_fd)
            os.close(write_fd)
            self._retry(slot, exc)
            return
        if pid == 0:  # the worker: never returns
            os.close(read_fd)
            self._become_worker(slot.index, write_fd)
        os.close(write_fd)
        slot.pid, slot.ready_fd, slot.ready = pid, read_fd, False
        slot.started = time.monotonic()
        logger.info("worker %d started (pid %d)", slot.index, pid)

    def _retry(self, slot: _Slot, exc: OSError) -> None:
        """No process could be made (out of memory, process limit): try again later."""
        if self._starting:
            logger.error("cannot start worker %d: %s; stopping", slot.index, exc)
            self._failed = True
            self._stop()
            return
        delay = slot.backoff.delay_after(0.0)
        logger.error("cannot start worker %d: %s; trying again in %.1fs", slot.index, exc, delay)
        slot.restart_at = time.monotonic() + delay

    def _become_worker(self, index: int, ready_fd: int) -> None:
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            for sig in (signal.SIGTERM, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until the worker handles it
            for fd in (*self._wake, *(s.ready_fd for s in self.slots)):
                if fd >= 0:
                    os.close(fd)
            code = self._body(index, ready_fd)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            _flush_output()
            os._exit(code)

    def _read_ready(self, slot: _Slot) -> None:
        try:
            data = os.read(slot.ready_fd, 16)
        except OSError:
            data = b""
        if data:
            slot.ready = slot.ever_ready = True
            logger.info("worker %d (pid %d) is serving", slot.index, slot.pid)
        else:  # the worker exited (or closed the pipe): waitpid tells how
            self._close_ready(slot)

    def _close_ready(self, slot: _Slot) -> None:
        if slot.ready_fd >= 0:
            os.close(slot.ready_fd)
            slot.ready_fd = -1

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            for slot in self.slots:
                if slot.pid == pid:
                    self._ended(slot, status)
                    break

    def _ended(self, slot: _Slot, status: int) -> None:
        pid, how = slot.pid, describe_status(status)
        lifetime = time.monotonic() - slot.started
        self._close_ready(slot)
        slot.pid, slot.ready = 0, False
        if self._stopping:
            logger.info("worker %d (pid %d) %s", slot.index, pid, how)
            return
        if self._starting and not slot.ever_ready:
            logger.error("worker %d (pid %d) %s before serving; stopping", slot.index, pid, how)
            self._failed = True
            self._stop()
            return
        delay = slot.backoff.delay_after(lifetime)
        logger.warning(
            "worker %d (pid %d) %s after %.1fs; restarting it in %.1fs",
            slot.index,
            pid,
            how,
            lifetime,
            delay,
        )
        slot.restart_at = time.monotonic() + delay

    # -- signals and stopping ---------------------------------------------------------------

    def _handle_signals(self) -> None:
        pending, self._signals = self._signals, []
        for signum in pending:
            if signum in (signal.SIGTERM, signal.SIGINT):
                if not self._stopping:
                    name = signal.Signals(signum).name
                    logger.info("%s: stopping %d workers", name, self._live())
                    self._stop()
            elif signum == signal.SIGHUP:
                logger.info("SIGHUP: passed on to %d workers", self._live())
                self._send(signal.SIGHUP)

    def _live(self) -> int:
        return sum(1 for slot in self.slots if slot.pid)

    def _send(self, sig: int) -> None:
        for slot in self.slots:
            if slot.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(slot.pid, sig)

    def _stop(self) -> None:
        self._stopping = True
        for slot in self.slots:
            slot.restart_at = None
        self._deadline = time.monotonic() + max(self._stop_timeout, 1.0) + self._grace
        self._send(signal.SIGTERM)

    def _kill_remaining(self) -> None:
        if self._killed:  # SIGKILL was sent KILL_WAIT ago and some are still not reaped
            logger.error("workers did not end after SIGKILL: %s", self._pids())
            raise SystemExit(1)
        logger.error("workers still running after the shutdown timeout, killed: %s", self._pids())
        self._killed = True
        self._send(signal.SIGKILL)
        self._deadline = time.monotonic() + KILL_WAIT

    def _pids(self) -> str:
        return ", ".join(f"worker {s.index} (pid {s.pid})" for s in self.slots if s.pid)


def _flush_output() -> None:
    """Flush what is buffered, so a fork does not write it twice."""
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
