"""Fuzz and attack a real ``gnnpt serve`` (issue 16): schemathesis with every check against its OpenAPI document,
then hand-made attacks over raw sockets, each with the answer the README documents.

Starts ``gnnpt serve`` (one worker, the shipped default model, an empty model store and job store in a temporary
folder, API keys on, short timeouts so that the slow attacks finish in seconds), runs ``schemathesis run --checks
all`` (positive data may also be answered 413 or 422: a body the schema allows can still hold too many molecules or
a table without a SMILES column), then each attack. Prints the schemathesis counts (test cases, failures), the
server's own counts (requests by status from ``/metrics``, tracebacks on stderr) and one line per attack with the
status it expected and got; exits 1 if any check failed, an attack got another answer, or the server answered 5xx.

Then the probe of issue 32, each case beside ``--busy`` processes that keep the cores busy (``yes``): another
client's latency while a 2,000-column CSV is answered; a gzip bomb in a model import (time to refuse, peak memory);
adaptation workers after their server's SIGKILL and SIGTERM; a 10 MB SMILES in ``gnnpt screen`` against the same
run without it; requests of 171-atom molecules up to the atom limit (each is refused up front or answered within
the timeout). Each prints its figures and whether it met its bound.

    python benchmarks/attack_service.py --max-examples 100 --busy 4
"""

from __future__ import annotations

import argparse
import fcntl
import gzip
import json
import os
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx

from gnnpt.api.settings import hash_key

KEY = "attack-key"
TIMEOUTS = {"HEADER_TIMEOUT_S": "2", "BODY_TIMEOUT_S": "3", "KEEP_ALIVE_TIMEOUT_S": "3"}
DEADLINE_S = 20.0  # an attack whose connection is still open after this has found a hole
# a response may take the service's request timeout (60 s; schemathesis' own limit is 10 s), and positive data may be
# answered 503 while a model loads (its first request waits half the timeout, then is told to retry)
SCHEMATHESIS_CONFIG = """
[checks]
max_response_time = 60.0

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "413", "422", "429", "503"]

[dictionaries.models]
values = ["tox21", "tox21-fast"]

[parameters]
"path.name" = { dictionary = "models", probability = 0.5 }
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(port: int, folder: Path, workers: int = 0) -> subprocess.Popen:
    """``gnnpt serve`` on ``port``, with its stores in ``folder`` and ``workers`` adaptation workers, once it is
    ready."""
    env = {**os.environ, "GNNPT_MODEL_DIR": str(folder / "models"), "GNNPT_API_JOBS_DIR": str(folder / "jobs"),
           "GNNPT_API_ADAPTATION_WORKERS": str(workers), "GNNPT_API_API_KEY_HASHES": hash_key(KEY),
           **{f"GNNPT_API_{k}": v for k, v in TIMEOUTS.items()}}  # fmt: skip
    proc = subprocess.Popen([str(Path(sys.executable).parent / "gnnpt"), "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=(folder / "server.err").open("w"))  # fmt: skip
    deadline = time.monotonic() + 600  # start-up beside busy processes and other jobs: minutes
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise RuntimeError(f"gnnpt serve exited: {(folder / 'server.err').read_text()[-2000:]}")
    proc.kill()
    raise RuntimeError("gnnpt serve was not ready in 600 s")


def requests_by_status(url: str) -> Counter[str]:
    """The server's request counts by status (``gnnpt_requests_total``; what reached the app)."""
    counts: Counter[str] = Counter()
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("gnnpt_requests_total{"):
            counts[re.search(r'status="(\d+)"', line).group(1)] += int(float(line.split()[-1]))
    return counts


def fuzz(url: str, folder: Path, max_examples: int, seed: int, minutes: float | None) -> tuple[list[str], dict]:
    """Run schemathesis (``minutes``: fuzzing repeats until they are spent); the command and its JSON report."""
    config, report = folder / "schemathesis.toml", folder / "schemathesis.json"
    config.write_text(SCHEMATHESIS_CONFIG, encoding="utf-8")
    command = [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(config), "run",
               f"{url}/openapi.json", "--checks", "all", "--max-examples", str(max_examples), "--seed", str(seed),
               "--workers", "1", "--continue-on-failure", "--request-timeout", "60", "-H", f"X-API-Key: {KEY}",
               "--report", "json", "--report-json-path", str(report),
               *(["--max-time", str(round(minutes * 60))] if minutes else [])]  # fmt: skip
    with (folder / "schemathesis.out").open("w") as out:
        subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
    return command, json.loads(report.read_text())


def until_closed(sock: socket.socket, start: float, trickle: bytes = b"") -> bytes | None:
    """What the server sends on ``sock`` until it closes it (None: still open :data:`DEADLINE_S` after ``start``);
    ``trickle`` is sent a byte every 0.2 s meanwhile, while nothing arrives."""
    received = b""
    while time.monotonic() - start < DEADLINE_S:
        if select.select([sock], [], [], 0.2)[0]:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return received
            if not chunk:
                return received
            received += chunk
        elif trickle:
            sock.sendall(trickle[:1])
            trickle = trickle[1:]
    return None


def exchange(port: int, data: bytes, trickle: bytes = b"") -> tuple[str, float]:
    """Send ``data`` on a new connection (then ``trickle``) and read until the server closes it: the answer's status
    (or "closed" without one) and the seconds until the close."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed while sending: the answer, if any, is still readable
        received = until_closed(sock, start, trickle)
    if received is None:
        return f"still open after {DEADLINE_S:g} s", DEADLINE_S
    status = received.split(b" ", 2)[1].decode() if received.startswith(b"HTTP/1.1 ") else "closed"
    return status, time.monotonic() - start


def request(method: str, path: str, body: bytes = b"", content_type: str = "application/json", key: str | None = KEY,
            extra: bytes = b"", length: int | None = None, close: bool = True) -> bytes:  # fmt: skip
    """A raw HTTP/1.1 request (``length``: a Content-Length other than the body's; -1: chunked)."""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n".encode()
    head += f"X-API-Key: {key}\r\n".encode() if key else b""
    head += b"Connection: close\r\n" if close else b""
    if length == -1:
        body = b"".join(b"%x\r\n%s\r\n" % (len(body[i : i + 65536]), body[i : i + 65536])
                        for i in range(0, len(body), 65536)) + b"0\r\n\r\n"  # fmt: skip
        head += b"Transfer-Encoding: chunked\r\n"
    else:
        head += b"Content-Length: %d\r\n" % (len(body) if length is None else length)
    return head + extra + b"\r\n" + body


def predict(payload: object | bytes, **kwargs: object) -> bytes:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return request("POST", "/v1/predict", body, **kwargs)  # type: ignore[arg-type]


def csv(text: bytes, **kwargs: object) -> bytes:
    return request("POST", "/v1/predict/csv", text, content_type="text/csv", **kwargs)  # type: ignore[arg-type]


def multipart(fields: int) -> bytes:
    body = b"".join(b'--B\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nx\r\n' % i for i in range(fields))
    return request("POST", "/v1/predict/csv", body + b"--B--\r\n", content_type="multipart/form-data; boundary=B")


def slowloris(port: int, connections: int = 200) -> tuple[str, float]:
    """``connections`` heads that never end, then a real request (its status), then until all are closed."""
    start = time.monotonic()
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
    for sock in socks:
        sock.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    status = str(httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code)
    still_open = 0
    for sock in socks:
        still_open += until_closed(sock, start) is None
        sock.close()
    if still_open:
        return f"{status}; {still_open} still open after {DEADLINE_S:g} s", DEADLINE_S
    return f"{status}; {connections} closed", time.monotonic() - start


def attacks(port: int) -> list[tuple[str, str, Callable[[], tuple[str, float]]]]:
    """(attack, the status the README documents, how to run it)."""

    def send(data: bytes, trickle: bytes = b"") -> Callable[[], tuple[str, float]]:
        return lambda: exchange(port, data, trickle)

    big = b'{"smiles": ["' + b"C" * 3_000_000 + b'"]}'
    explain_51 = {"smiles": ["C" * (k + 1) for k in range(51)], "explain": True}
    wide = b",".join(b"c%d" % i for i in range(3000)) + b"\nC\n"
    no_boundary = request("POST", "/v1/predict/csv", b"x", content_type="multipart/form-data")
    one = b'{"smiles": ["C"]}'
    smuggle = request("POST", "/v1/predict", b"0\r\n\r\n", extra=b"Transfer-Encoding: chunked\r\n")
    headers = b"".join(b"X-%d: a\r\n" % i for i in range(20_000))
    return [
        ("body of 3 MB, Content-Length declared", "413", send(predict(big))),
        ("body of 3 MB, chunked JSON", "413", send(predict(big, length=-1))),
        ("body of 3 MB, chunked CSV", "413", send(csv(b"smiles\n" + b"CCO\n" * 750_000, length=-1))),
        ("5,001 molecules", "413", send(predict({"smiles": ["C"] * 5001}))),
        ("~260,000 heavy atoms (1,300 SMILES of 199 C)", "413", send(predict({"smiles": ["C" * 199] * 1300}))),
        ("a SMILES of 10,000 characters", "200", send(predict({"smiles": ["C" * 10_000]}))),
        ("a SMILES of 500 heavy atoms", "200", send(predict({"smiles": ["C" * 500]}))),
        ("a lone surrogate in a SMILES", "200", send(predict(b'{"smiles": ["C\\ud800"]}'))),
        ("a lone surrogate in an id", "422", send(predict(b'{"smiles": ["C"], "ids": ["\\udfff"]}'))),
        ("NUL and control characters in a SMILES", "200", send(predict({"smiles": ["C\x00C\x1b[2J"]}))),
        ("an id of 2**70", "422", send(predict({"smiles": ["C"], "ids": [2**70]}))),
        ("an id of 400 digits", "422", send(predict(b'{"smiles": ["C"], "ids": [' + b"9" * 400 + b"]}"))),
        ("an id of 1e400", "422", send(predict(b'{"smiles": ["C"], "ids": [1e400]}'))),
        ("depict: 0 (not a boolean)", "422", send(predict({"smiles": ["C"], "depict": 0}))),
        ("an unknown field", "422", send(predict({"smiles": ["C"], "model": "x"}))),
        ("a JSON array, not an object", "422", send(predict([["C"]]))),
        ("malformed JSON, with a key", "422", send(predict(b'{"smiles": ["C"'))),
        ("malformed JSON, without a key", "401", send(predict(b'{"smiles": ["C"', key=None))),
        ("malformed JSON, with a wrong key", "403", send(predict(b'{"smiles": ["C"', key="wrong"))),
        ("JSON that is not UTF-8", "400", send(predict(b'{"smiles": ["\xff\xfe"]}'))),
        ("JSON nested 100,000 deep", "400", send(predict(b"[" * 100_000 + b"]" * 100_000))),
        ("attributions for 51 molecules", "422", send(predict(explain_51))),
        (
            "attributions for an unknown task",
            "422",
            send(predict({"smiles": ["C"], "explain": True, "explain_task": "nope"})),
        ),
        ("CSV of 3,000 columns", "422", send(csv(wide))),
        ("CSV header line of 70,000 bytes", "422", send(csv(b"smiles," + b"x" * 70_000 + b"\nC,1\n"))),
        ("CSV that is not UTF-8", "200", send(csv(b"smiles,name\nCCO,\xe9thanol\n\xff\xfe,x\n"))),
        ("multipart without a boundary", "400", send(no_boundary)),
        ("multipart with 5,000 fields", "400", send(multipart(5000))),
        ("a model name of 10,000 characters", "404", send(request("POST", f"/v1/models/{'m' * 10_000}/predict", one))),
        ("a model name ../../etc (encoded)", "404", send(request("POST", "/v1/models/..%2F..%2Fetc/predict", one))),
        ("markup in a model name", "404", send(request("GET", "/v1/models/%3Cscript%3Ealert(1)%3C%2Fscript%3E"))),
        ("an unknown job's report page", "404", send(request("GET", "/v1/adaptations/nope/report"))),
        ("PATCH /v1/predict", "405", send(request("PATCH", "/v1/predict"))),
        ("Content-Length with Transfer-Encoding (smuggling)", "400", send(smuggle)),
        ("a head of 100 KiB", "431", send(request("GET", "/healthz", extra=b"X-Pad: " + b"a" * 102_400 + b"\r\n"))),
        ("20,000 headers", "431", send(request("GET", "/healthz", extra=headers))),
        ("a head that stalls (slowloris)", "408", send(b"POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n")),
        ("a connection that sends nothing", "closed", send(b"")),
        ("a body that stalls", "408", send(predict(b'{"smiles": ', length=100, close=False))),
        ("a body trickled a byte per 0.2 s", "408", send(predict(b"", length=200, close=False), trickle=b" " * 200)),
        ("a refused body trickled on", "413", send(predict(b"", length=3_000_000, close=False), trickle=b" " * 200)),
        ("an idle kept-alive connection", "200", send(request("GET", "/healthz", close=False))),
        ("200 slowloris connections, then a request", "200; 200 closed", lambda: slowloris(port)),
    ]


def busy(count: int, seconds: float) -> list[subprocess.Popen]:
    """``count`` processes that keep a core busy each, ended by ``timeout`` after ``seconds`` at the latest (end
    them sooner with SIGTERM, which ``timeout`` passes on; SIGKILL would leave ``yes`` running)."""
    return [subprocess.Popen(["timeout", str(int(seconds)), "yes"], stdout=subprocess.DEVNULL) for _ in range(count)]


def one_molecule_latency(url: str, until: Callable[[], bool], every_s: float = 0.05) -> list[float]:
    """Seconds of one-molecule requests sent one after another until ``until()``."""
    seconds = []
    with httpx.Client(headers={"X-API-Key": KEY}, timeout=60) as client:
        while not until():
            start = time.monotonic()
            client.post(f"{url}/v1/predict", json={"smiles": ["CCO"]}).raise_for_status()
            seconds.append(time.monotonic() - start)
            time.sleep(every_s)
    return seconds


def wide_csv(url: str, repeats: int = 5) -> tuple[str, bool]:
    """Another client's latency while 1,999-column CSVs (every cell a formula to escape) are answered, against its
    latency alone."""
    header = "smiles," + ",".join(f"c{k}" for k in range(1998))
    table = (header + "\nCCO," + ",".join(["=1+1"] * 1998) + "\n").encode()
    alone_until = time.monotonic() + 5
    alone = one_molecule_latency(url, lambda: time.monotonic() > alone_until)
    done, answers = threading.Event(), []

    def post() -> None:
        try:
            with httpx.Client(headers={"X-API-Key": KEY, "Content-Type": "text/csv"}, timeout=120) as client:
                for _ in range(repeats):
                    response = client.post(f"{url}/v1/predict/csv", content=table)
                    answers.append(f"{response.status_code} {response.text[:80] if response.is_error else ''}")
        finally:
            done.set()  # the latency loop ends with the uploads, answered or not

    sender = threading.Thread(target=post)
    sender.start()
    during = one_molecule_latency(url, done.is_set)
    sender.join()
    failed = [a for a in answers if not a.startswith("200")]
    if failed or not during:
        return f"{len(answers) - len(failed)} of {repeats} wide CSVs answered 200; {failed[:1]}", False
    extra = max(during) - statistics.median(alone)
    return (f"one-molecule requests: median {statistics.median(alone) * 1e3:.0f} ms alone (max "
            f"{max(alone) * 1e3:.0f} ms); during {repeats} wide "
            f"CSVs median {statistics.median(during) * 1e3:.0f} ms, max {max(during) * 1e3:.0f} ms "
            f"({len(during)} requests): +{extra * 1e3:.0f} ms at worst"), extra < 0.2  # fmt: skip


BOMB_IMPORT = textwrap.dedent("""
    import resource, sys, time
    from gnnpt.models.store import import_model
    start = time.monotonic()
    try:
        import_model(sys.argv[1], root=sys.argv[2])
        outcome = "imported"
    except ValueError as exc:
        outcome = str(exc)
    print(time.monotonic() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, outcome, sep="\\t")
""")


def gzip_bomb(folder: Path, gigabytes: int) -> tuple[str, bool]:
    """A shipped tree model whose trees.json.gz holds ``gigabytes`` GB of zeros, imported into a new model store:
    the seconds to refuse it (after start-up) and the process's peak memory."""
    from gnnpt.models.packaged import packaged_dir

    model = shutil.copytree(packaged_dir() / "sider", folder / "bomb")
    block = bytes(64 << 20)
    with gzip.open(model / "trees.json.gz", "wb", compresslevel=6) as fh:
        for _ in range(gigabytes * 1000 // 64):
            fh.write(block)
    packed = (model / "trees.json.gz").stat().st_size
    out = subprocess.run([sys.executable, "-c", BOMB_IMPORT, str(model), str(folder / "bomb-store")],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    seconds, peak_kb, outcome = out.strip().split("\t", 2)
    refused = "compression bomb" in outcome
    text = (f"{gigabytes} GB of zeros in {packed / 1e6:.0f} MB: {'refused' if refused else outcome[:80]} in "
            f"{float(seconds):.2f} s, peak memory {int(peak_kb) / 1024:.0f} MB")  # fmt: skip
    return text, refused and float(seconds) < 5 and int(peak_kb) < 1 << 20


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _slot_held(jobs: Path) -> bool:
    path = jobs / "worker-0.lock"
    if not path.exists():
        return False
    with path.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
    return False


def workers_after_their_server(folder: Path) -> tuple[str, bool]:
    """``gnnpt serve`` with one adaptation worker, ended by SIGKILL and then by SIGTERM: seconds until its worker
    is gone."""
    lines, ok = [], True
    for how in (signal.SIGKILL, signal.SIGTERM):
        port, run = free_port(), folder / f"serve-{how.name}"
        run.mkdir()
        proc = start(port, run, workers=1)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not _slot_held(run / "jobs"):
            time.sleep(0.1)
        workers = [c for c in _children(proc.pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
        ended = time.monotonic()
        proc.send_signal(how)
        proc.wait(60)
        while time.monotonic() - ended < 30 and any(_running(w) for w in workers):
            time.sleep(0.05)
        seconds = time.monotonic() - ended
        alive = [w for w in workers if _running(w)]
        for w in alive:
            os.kill(w, signal.SIGKILL)
        lines.append(f"{how.name}: {'a worker still running' if alive else 'no worker left'} {seconds:.1f} s after")
        ok &= not alive and seconds < 5
    return "; ".join(lines), ok


SCREENS = textwrap.dedent("""
    import resource, sys, time
    import gnnpt
    from gnnpt.screening import screen

    def peak_kb():  # this process's and its finished featurization workers' peak resident memory
        return max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))

    predictor = gnnpt.load()
    for name in sys.argv[1:]:
        start = time.monotonic()
        screen(name, predictor, name + ".scores.csv", progress=False)
        print(time.monotonic() - start, peak_kb(), sep="\\t", flush=True)
""")


def huge_smiles_in_screen(folder: Path) -> tuple[str, bool]:
    """``gnnpt screen``'s function, in one process with the model loaded once, on two molecules twice (the second
    run is the baseline: warm), then on the same two with a 10 MB SMILES between them: the extra seconds and peak
    memory that one row costs, without the command's start-up (20-40 s beside busy processes, and as noisy)."""
    plain, huge = folder / "two.csv", folder / "huge.csv"
    plain.write_text("smiles,name\nCCO,a\nc1ccccc1O,c\n")
    huge.write_text("smiles,name\nCCO,a\n" + "C" * 10_000_000 + ",b\nc1ccccc1O,c\n")
    out = subprocess.run([sys.executable, "-c", SCREENS, str(plain), str(plain), str(huge)], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    (_, _), (base_s, base_kb), (huge_s, huge_kb) = [map(float, line.split("\t")) for line in out.splitlines()]
    with open(f"{huge}.scores.csv") as fh:
        error = fh.read().splitlines()[2].rsplit(",", 1)[1]
    extra_s, extra_mb = huge_s - base_s, (huge_kb - base_kb) / 1024
    text = (f"{huge_s:.2f} s against {base_s:.2f} s without it (+{extra_s:.2f} s); peak memory {huge_kb / 1024:.0f} "
            f"MB against {base_kb / 1024:.0f} MB (+{extra_mb:.0f} MB); its row: {error[:60]!r}")  # fmt: skip
    return text, error.startswith("too many atoms") and extra_s < 2 and extra_mb < 500


def heavy_requests(url: str, timeout_s: float = 60.0) -> tuple[str, bool]:
    """Requests of 171-atom molecules up to the atom limit: each must be refused up front or answered in time."""
    from gnnpt.api.cost import probe_smiles

    lines, ok = [], True
    with httpx.Client(headers={"X-API-Key": KEY}, timeout=120) as client:
        for n in (100, 400, 800, 1450):
            start = time.monotonic()
            status = client.post(f"{url}/v1/predict", json={"smiles": [probe_smiles(171)] * n}).status_code
            seconds = time.monotonic() - start
            lines.append(f"{n:,} molecules: {status} in {seconds:.1f} s")
            ok &= status == 413 or (status == 200 and seconds < timeout_s)
    return "; ".join(lines), ok


def probe(url: str, folder: Path, busy_count: int, bomb_gb: int) -> int:
    """Issue 32's probe; the number of cases that missed their bound."""
    cases = [
        ("another client's latency during 2,000-column CSVs (under +200 ms)", lambda: wide_csv(url)),
        ("171-atom molecules (each refused up front or answered within the 60 s timeout)", lambda: heavy_requests(url)),
        ("a gzip bomb in a model import (refused within 5 s, under 1 GB)", lambda: gzip_bomb(folder, bomb_gb)),
        ("adaptation workers after their server ends (none after 5 s)", lambda: workers_after_their_server(folder)),
        ("a 10 MB SMILES in gnnpt screen (a row error, +2 s, +500 MB)", lambda: huge_smiles_in_screen(folder)),
    ]
    missed = 0
    print(f"issue 32 probe, beside {busy_count} busy processes:")
    for name, run in cases:
        neighbours = busy(busy_count, 600)
        try:
            text, ok = run()
        except Exception as exc:  # the case could not be run (a server that did not start): a miss, the others run
            text, ok = f"{type(exc).__name__}: {exc}", False
        finally:
            for p in neighbours:
                p.terminate()
                p.wait()
        missed += not ok
        print(f"  {'ok  ' if ok else 'MISS'} {name}: {text}")
    return missed


def counts(by_status: Counter[str]) -> str:
    return f"{sum(by_status.values()):,} requests: " + ", ".join(f"{n:,} x {s}" for s, n in sorted(by_status.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=100, help="schemathesis test cases per operation")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--fuzz-minutes", type=float, help="schemathesis' time budget (--max-time): fuzzing repeats")
    parser.add_argument("--busy", type=int, default=4, help="busy processes beside the service in the probe cases")
    parser.add_argument("--bomb-gb", type=int, default=6, help="gigabytes of zeros in the probe's gzip bomb")
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        proc = start(port, folder)
        try:
            began = time.monotonic()
            command, report = fuzz(url, folder, args.max_examples, args.seed, args.fuzz_minutes)
            fuzzed = requests_by_status(url)
            print(f"schemathesis {report['schemathesis_version']}: {' '.join(command[1:])}")
            phases = ", ".join(f"{name} {phase['status']}" for name, phase in report["phases"].items())
            print(f"  {report['test_cases']['generated']:,} test cases in {time.monotonic() - began:.0f} s; "
                  f"{report['test_cases']['with_failures']} with failures, {len(report['errors'])} errors; "
                  f"phases: {phases}")  # fmt: skip
            for failure in report["failures"]:
                print(f"  FAILED {failure['code']} {failure['title']}: {failure['count']} ({failure['operations']})")
            if report["failures"]:  # schemathesis's own account: each failure with a curl line that reproduces it
                out = (folder / "schemathesis.out").read_text(encoding="utf-8")
                print(out[out.find("FAILURES") : out.find("SUMMARY")])
            print(f"  the server counted {counts(fuzzed)}")
            print(f"attacks (timeouts: {', '.join(f'{k.lower()}={v}' for k, v in TIMEOUTS.items())}):")
            missed = 0
            for name, expected, run in attacks(port):
                got, seconds = run()
                missed += got != expected
                print(f"  {'ok  ' if got == expected else 'MISS'} {name}: expected {expected}, got {got} "
                      f"({seconds:.1f} s)")  # fmt: skip
            after = requests_by_status(url) - fuzzed
            print(f"  the server counted {counts(after)}")
            missed += probe(url, folder, args.busy, args.bomb_gb)
            alive = httpx.get(f"{url}/healthz", timeout=10).status_code == 200
        finally:
            proc.terminate()
            proc.wait(60)
        answered = fuzzed + after
        retry = answered["503"]  # a model still loading (or a busy job store): told to retry, with Retry-After
        errors = sum(n for s, n in answered.items() if s.startswith("5")) - retry
        tracebacks = (folder / "server.err").read_text().count("Traceback")
        print(f"server: {errors} answers 5xx besides {retry} x 503 (retry later), {tracebacks} tracebacks on stderr, "
              f"{'alive' if alive else 'NOT ANSWERING'} after the attacks")  # fmt: skip
    failed = report["test_cases"]["with_failures"] or report["errors"] or missed or errors or tracebacks or not alive
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
