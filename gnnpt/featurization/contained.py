"""Featurize untrusted molecules where a crash costs one row: a supervised child process with memory and time limits.

RDKit is C++: a molecule that crashes it (a segfault, an abort), allocates without bound or parses for minutes takes
the calling process with it. A :class:`ContainedFeaturizer` runs :func:`featurize_chunk` in a child process whose
address space may grow by at most ``ParseLimits.memory_mb`` (Linux) and which must finish each molecule within
``ParseLimits.time_s``. The child tells through shared memory which item it is on, so when it dies or stalls the
supervisor knows the row: that row becomes an error (``parse crashed`` / ``parse timed out``), the other rows are
featurized again in a fresh child, and the caller gets results aligned with its inputs as if nothing happened.

Within :func:`contained_parsing`, :func:`gnnpt.featurization.featurize` parses this way, so any code below it (a
model's ``featurize``) is contained without being told.
"""

from __future__ import annotations

import functools
import importlib
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any

from gnnpt.featurization.chunk import ChunkResult, FeaturizeOptions, failed_item, featurize_chunk
from gnnpt.featurization.sdf import sdf_rows, unreadable
from gnnpt.runtime import start_worker
from gnnpt.store.errors import ErrorReason, ItemError

_OUT_OF_MEMORY = 86  # the child's exit code after a MemoryError
_POLL_S = 0.05  # how often the supervisor looks at the child's progress
_STARTUP_S = 120.0  # a child that is not ready by then (importing RDKit on a busy machine) is a failure to start
_PR_SET_DUMPABLE = 4  # prctl option (linux/prctl.h)
_STARTING = threading.Lock()  # children start one at a time


@dataclass(frozen=True)
class ParseLimits:
    """What one parse may use: ``memory_mb`` more address space than the child process starts with (Linux only), and
    ``time_s`` seconds per molecule."""

    memory_mb: int = 1024
    time_s: float = 10.0

    def __post_init__(self) -> None:
        if self.memory_mb < 1 or self.time_s <= 0:
            raise ValueError(f"parse limits must be positive, got memory_mb={self.memory_mb}, time_s={self.time_s}")


class ContainedFailure(RuntimeError):
    """A :meth:`ContainedFeaturizer.call` whose child process crashed, ran out of memory or stalled."""


@dataclass(frozen=True)
class _Raised:
    """An expected exception of a :meth:`ContainedFeaturizer.call`, sent back as its class and message."""

    type: type[Exception]
    message: str


def _caught(fn: Callable[..., Any], args: tuple, expected: tuple[type[Exception], ...], progress: Any) -> Any:
    """``fn(*args, progress)``, with an exception of ``expected`` returned as the first of those classes it is."""
    try:
        return fn(*args, progress)
    except expected as exc:
        return _Raised(next(t for t in expected if isinstance(exc, t)), str(exc))


@dataclass(frozen=True)
class _Failure:
    """How a child failed a chunk: the items it had finished (-1: before the first), why, and what to tell."""

    done: int
    error: ItemError


def _limit_memory(memory_mb: int) -> None:
    """Let this process's address space grow by at most ``memory_mb`` beyond what it maps now (Linux): an allocation
    past it fails (a MemoryError, or RDKit aborts) instead of exhausting the machine."""
    if not sys.platform.startswith("linux"):
        return
    import resource

    import pyarrow

    # Arrow's default allocator (mimalloc) reserves 1 GiB of address space on its first use (pandas reads text columns
    # into Arrow): under this limit a two-line CSV ran out of memory
    pyarrow.set_memory_pool(pyarrow.system_memory_pool())

    with open("/proc/self/statm") as fh:
        mapped = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = mapped + memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))


def _no_core_dumps() -> None:
    """A crashing parse writes no core dump (Linux): the child is forked from a server holding models (a 1.7 GB core
    was written here with ``ulimit -c unlimited``), and while the kernel writes it the child looks alive and stalled
    to its supervisor. RLIMIT_CORE 0 stops core files; not being dumpable also stops dumps piped to a handler
    (systemd-coredump), which ignore that limit."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def _serve(conn: Connection, done: Any, memory_mb: int, parent: int | None, preload: tuple[str, ...]) -> None:
    """The child: import ``preload`` (before the memory limit and the first call's clock), then run each call sent
    (``fn(*args, progress)``: featurize a chunk, read SDF records), reporting progress in ``done``; exit on a
    MemoryError (the supervisor starts a fresh child) and when the supervisor closes the pipe."""
    start_worker(os.getppid() if parent is None else parent)
    for module in preload:
        importlib.import_module(module)
    _limit_memory(memory_mb)
    _no_core_dumps()
    conn.send(("ready", None))
    progress = functools.partial(setattr, done, "value")
    while True:
        try:
            fn, args = conn.recv()
        except EOFError:
            return
        try:
            reply = ("done", fn(*args, progress))
        except MemoryError:
            os._exit(_OUT_OF_MEMORY)
        except Exception as exc:  # a bug, not a molecule: the supervisor raises it
            reply = ("raised", f"{type(exc).__name__}: {exc}")
        conn.send(reply)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class _Child:
    """One parse process: started on first use, and again after it died or was stopped."""

    def __init__(self, context: BaseContext, limits: ParseLimits, preload: tuple[str, ...]):
        self.context, self.limits, self.preload = context, limits, preload
        self.done = context.RawValue("q", -1)  # shared with the child: the items it has finished
        self.process: BaseProcess | None = None
        self.conn: Connection | None = None

    def start(self) -> None:
        """Start the process unless it runs; return once it is ready to parse."""
        if self.process is not None and self.process.is_alive():
            return
        self.stop()
        with _STARTING:  # a child forked meanwhile by another thread would hold this one's pipe ends open
            ours, theirs = self.context.Pipe()
            parent = os.getpid() if self.context.get_start_method() == "fork" else None  # else its parent is a server
            args = (theirs, self.done, self.limits.memory_mb, parent, self.preload)
            process = self.context.Process(target=_serve, args=args, name="gnnpt-parse", daemon=True)
            try:
                process.start()
            finally:
                theirs.close()
        self.process, self.conn = process, ours
        try:
            started = ours.poll(_STARTUP_S) and ours.recv()[0] == "ready"
        except EOFError:  # it died while starting
            started = False
        except BaseException:
            self.stop()
            raise
        if not started:
            self.stop()
            raise RuntimeError(f"the parse process did not start (it ended, or was not ready within {_STARTUP_S:g} s)")

    def stop(self) -> None:
        """End the process now (SIGKILL: it may be stuck in C++)."""
        if self.process is not None:
            self.process.kill()
            self.process.join()
            self.process.close()
        if self.conn is not None:
            self.conn.close()
        self.process = self.conn = None

    def run(self, fn: Callable[..., Any], args: tuple) -> Any:
        """``fn(*args, progress)`` in the child (``fn`` importable there); a :class:`_Failure` (the child is then gone)
        when it died or stalled."""
        self.start()
        self.done.value = -1
        try:
            self.conn.send((fn, args))
            return self._wait()
        except (EOFError, OSError):  # the pipe broke: the child died
            return self._ended()
        except BaseException:  # interrupted while the child works: it holds half a conversation
            self.stop()
            raise

    def _wait(self) -> Any:
        seen, since = -1, time.monotonic()
        while True:
            ready = wait([self.conn, self.process.sentinel], _POLL_S)
            if self.conn in ready:
                status, payload = self.conn.recv()
                if status == "raised":
                    raise RuntimeError(f"featurization failed in the parse process: {payload}")
                return payload
            if ready or not self.process.is_alive():  # dead, though a process forked elsewhere may hold its pipes open
                return self._ended()
            now, done = time.monotonic(), self.done.value
            if done != seen:
                seen, since = done, now
            elif now - since >= self.limits.time_s:
                self.stop()
                message = f"parsing took longer than {self.limits.time_s:g} s (the limit per molecule)"
                return _Failure(done, ItemError(ErrorReason.PARSE_TIMEOUT, message))

    def _ended(self) -> _Failure:
        self.process.join(5)
        code, done = self.process.exitcode, self.done.value
        self.stop()
        if code == _OUT_OF_MEMORY:
            message = f"parsing needed more than {self.limits.memory_mb} MB of memory (the limit per parse)"
        elif code is not None and code < 0:
            message = f"the process parsing it died of {_signal_name(-code)} (RDKit crashed)"
        else:
            message = f"the process parsing it ended unexpectedly (exit code {code})"
        return _Failure(done, ItemError(ErrorReason.PARSE_CRASHED, message))


class ContainedFeaturizer:
    """Featurizes chunks in one supervised child process (callers in several threads take turns).

    ``start_method``: how the child starts; None for ``forkserver`` where there is one (children fork from a clean
    server process that has only imported featurization: safe from a process with threads, like a web server), else
    ``spawn``; with either, a script's main module must be safe to import (``if __name__ == "__main__":``).
    ``preload``: modules the child imports as it starts (those of the functions :meth:`call` runs), so that the
    first call's time limit is not spent importing them. Use as a context manager, or :meth:`close` it.
    """

    def __init__(
        self, limits: ParseLimits = ParseLimits(), start_method: str | None = None, preload: tuple[str, ...] = ()
    ):
        method = start_method or ("forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn")
        context = mp.get_context(method)
        if method == "forkserver":
            context.set_forkserver_preload([__name__])  # children fork with RDKit imported
        self.limits = limits
        self._child = _Child(context, limits, preload)
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the child now (e.g. when a server starts), so that the first call does not wait for it."""
        with self._lock:
            self._child.start()

    def close(self) -> None:
        """End the child (a later call starts another)."""
        with self._lock:
            self._child.stop()

    def __enter__(self) -> ContainedFeaturizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, fn: Callable[..., Any], *args: Any, expected: tuple[type[Exception], ...] = ()) -> Any:
        """``fn(*args, progress)`` in the child (``fn`` importable there; ``progress(i)`` says it is on item ``i``, and
        the time limit counts from the last change). An exception of ``expected`` is raised here again as the first of
        those classes it is, with its message; a child that crashed, ran out of memory or stalled raises
        :class:`ContainedFailure`."""
        with self._lock:
            outcome = self._child.run(_caught, (fn, args, expected))
        if isinstance(outcome, _Failure):
            raise ContainedFailure(outcome.error.message)
        if isinstance(outcome, _Raised):
            raise outcome.type(outcome.message)
        return outcome

    def featurize_items(self, items: list[object], start: int, options: FeaturizeOptions) -> list[ChunkResult]:
        """:func:`featurize_chunk` of ``items`` in the child, as consecutive parts covering every item in order; an
        item whose parse crashed the child or ran past the time limit is that item's error."""
        with self._lock:
            return self._narrowed(featurize_chunk, items, start, (options,),
                                  lambda item, index, error: failed_item(item, index, options, error))  # fmt: skip

    def sdf_rows(self, records: list[bytes], start: int, text: bool) -> list[dict[str, Any]]:
        """:func:`gnnpt.featurization.sdf.sdf_rows` of ``records`` in the child: a record that crashes RDKit or reads
        past the time limit is that record's error row."""

        def failed(_: object, index: int, error: ItemError) -> list[dict[str, Any]]:
            return [unreadable(index, f"{error.reason}: {error.message}")]

        with self._lock:
            parts = self._narrowed(sdf_rows, records, start, (text,), failed)
        return [row for part in parts for row in part]

    def _narrowed(self, fn: Callable[..., Any], items: list[Any], start: int, args: tuple,
                  failed: Callable[[Any, int, ItemError], Any]) -> list[Any]:  # fmt: skip
        """``fn(items, start, *args)`` in the child, as consecutive outcomes covering every item in order. When the
        child dies or stalls on an item, the items it had finished run again (their results died with it), the item
        runs once more alone after a crash (the crash may have come from before it, e.g. memory other items left; a
        stall is not retried: the clock ran on that item alone), and failing that it is ``failed(item, index,
        error)``; a failure outside any one item halves the items."""
        outcomes: list[Any] = []
        pos = 0
        while pos < len(items):
            rest = items[pos:]
            outcome = self._child.run(fn, (rest, start + pos, *args))
            if not isinstance(outcome, _Failure):
                outcomes.append(outcome)
                break
            k = outcome.done
            if not 0 <= k < len(rest) and len(rest) > 1:
                half = len(rest) // 2
                outcomes += self._narrowed(fn, rest[:half], start + pos, args, failed)
                pos += half
                continue
            k = max(0, min(k, len(rest) - 1))
            if k:
                outcomes += self._narrowed(fn, rest[:k], start + pos, args, failed)
            index = start + pos + k
            if outcome.error.reason is ErrorReason.PARSE_CRASHED:
                outcome = self._child.run(fn, ([rest[k]], index, *args))
            outcomes.append(failed(rest[k], index, outcome.error) if isinstance(outcome, _Failure) else outcome)
            pos += k + 1
        return outcomes


_ACTIVE: ContextVar[ContainedFeaturizer | None] = ContextVar("gnnpt_contained_featurizer", default=None)


@contextmanager
def contained_parsing(featurizer: ContainedFeaturizer) -> Iterator[None]:
    """Within the block (this thread or task), :func:`gnnpt.featurization.featurize` parses in ``featurizer``'s child
    process: every caller below, e.g. a model's ``featurize``, is contained without passing it along."""
    token = _ACTIVE.set(featurizer)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def active_featurizer() -> ContainedFeaturizer | None:
    """The featurizer of the innermost :func:`contained_parsing` block around this call, if any."""
    return _ACTIVE.get()
