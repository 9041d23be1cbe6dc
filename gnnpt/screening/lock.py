"""One screening run per output: ``OUT.lock``, held (an advisory lock the kernel drops when the process ends) while a
run writes ``OUT``, so a second ``--resume`` of the same output cannot interleave its chunks with the first's."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one run per output is then the user's to keep
    fcntl = None  # type: ignore[assignment]


class OutputInUse(ValueError):
    """Another process is writing the same screening output."""


def lock_path(output: Path) -> Path:
    return output.with_name(output.name + ".lock")


@contextmanager
def output_lock(output: Path) -> Iterator[None]:
    """Hold ``OUT.lock`` for the block; OutputInUse, naming the holder's pid, when another run holds it."""
    if fcntl is None:
        yield
        return
    path = lock_path(output)
    while True:
        handle = path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise OutputInUse(f"{output} is being written by another gnnpt screen (pid {holder}); wait for it to "
                              "end, or write to another output") from None  # fmt: skip
        if path.exists() and os.path.samestat(os.fstat(handle.fileno()), path.stat()):
            break
        handle.close()  # the previous holder removed the file between our open and our lock: lock the new one
    try:
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        path.unlink(missing_ok=True)  # while still held: a waiting run then locks a fresh file
        handle.close()
