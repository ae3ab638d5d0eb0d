"""Where a fleet's per-tenant work runs: a local process pool, or a Dask distributed cluster
(`--scheduler tcp://HOST:PORT`, whose workers run where the files are). Both run calls
with at most `limit` in flight and hand each result to the caller as it comes.

A worker that dies takes its tenant's call with it: the local pool then starts afresh
and sends that call again, and Dask's scheduler does the same on another worker. Every
phase of a tenant is re-runnable, so the call goes on from where the dead one stopped.
"""

from __future__ import annotations

import ctypes
import importlib
import multiprocessing
import os
import signal
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterator, Protocol

from mig.errors import MigError

__all__ = ["Pool", "LocalPool", "DaskPool", "WORKER_DEATHS"]

# How many times one call may lose its worker before it is given up as failed.
WORKER_DEATHS = 3
# Calls sent ahead per worker: a worker that finishes finds its next call waiting, instead
# of idling while the coordinator records the last one (at most `limit` run at once).
QUEUED_PER_WORKER = 2

Call = tuple[Any, ...]
Lost = Callable[[Call, str], Any]  # the result for a call given up: its arguments, why
Sent = Callable[[Call], None]  # told of each call just before it goes to a worker


class Pool(Protocol):
    limit: int

    def run(self, fn: Callable[..., Any], calls: list[Call], lost: Lost, sent: Sent | None = None) -> Iterator[Any]:
        ...

    def close(self) -> None:
        ...


class LocalPool:
    """A process pool on this machine (spawned workers: nothing inherited but the call)."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.limit, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_die_with_parent)

    def run(self, fn: Callable[..., Any], calls: list[Call], lost: Lost, sent: Sent | None = None) -> Iterator[Any]:
        waiting = list(reversed(range(len(calls))))
        deaths = [0] * len(calls)
        running: dict[Future[Any], int] = {}
        while waiting or running:
            while waiting and len(running) < self.limit * QUEUED_PER_WORKER:
                i = waiting.pop()
                if sent:
                    sent(calls[i])
                running[self._executor.submit(fn, *calls[i])] = i
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            broken = [running.pop(f) for f in finished if isinstance(f.exception(), BrokenProcessPool)]
            for future in [f for f in finished if f in running]:
                yield future.result()
                del running[future]
            if broken:  # a worker died: the pool is gone, and every call in it
                broken += running.values()
                running.clear()
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = self._start()
                for i in broken:
                    deaths[i] += 1
                    if deaths[i] >= WORKER_DEATHS:
                        yield lost(calls[i], f"its worker died {WORKER_DEATHS} times")
                    else:
                        waiting.append(i)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def _die_with_parent() -> None:
    """A worker ends with the run that started it (Linux): killed with SIGKILL, the run
    leaves no worker going on with a tenant that the run, started again, sends again."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    if os.getppid() == 1:  # the parent died before prctl took hold
        os._exit(1)


class DaskPool:
    """A Dask distributed cluster's workers, through its scheduler."""

    def __init__(self, address: str, limit: int | None) -> None:
        try:
            # Typed as Any: distributed ships no annotations mypy --strict accepts.
            self._dask: Any = importlib.import_module("distributed")
        except ImportError as exc:  # pragma: no cover - the fleet extra installs it
            raise MigError("--scheduler needs Dask distributed: pip install 'mig[fleet]'") from exc
        try:
            # Not the process's default client: a caller's own client (and its loop) stays its.
            self._client: Any = self._dask.Client(address, timeout="5s", set_as_default=False)
        except OSError as exc:
            raise MigError(f"cannot reach the Dask scheduler at {address} ({exc}); start it with "
                           "`dask scheduler`, its workers with `dask worker ADDRESS`") from exc
        threads = sum(self._client.nthreads().values())
        self.limit = max(1, limit or threads or 1)

    def run(self, fn: Callable[..., Any], calls: list[Call], lost: Lost, sent: Sent | None = None) -> Iterator[Any]:
        waiting = list(reversed(calls))
        futures = self._dask.as_completed(loop=self._client.loop)
        running: dict[Any, Call] = {}

        def send() -> None:
            call = waiting.pop()
            if sent:
                sent(call)
            future = self._client.submit(fn, *call, pure=False)
            running[future.key] = call
            futures.add(future)

        while waiting and len(running) < self.limit * QUEUED_PER_WORKER:
            send()
        for future in futures:
            call = running.pop(future.key)
            try:
                yield future.result()
            except Exception as exc:  # KilledWorker: the scheduler gave the call up
                yield lost(call, f"the cluster gave it up ({type(exc).__name__}: {exc})")
            if waiting:
                send()

    def close(self) -> None:
        self._client.close()
