"""Run each measurement in a fresh subprocess and collect seconds and peak memory.

Peak memory is the child's maximum resident set size as the kernel reports it when the
child is reaped (``os.wait4``), so every figure belongs to one measurement alone; it
includes the interpreter and imports (about 100-200 MB for the project's stack).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.tasks import RESULT_PREFIX

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
DATA = BENCH / "data"
LIFETIMES_VENV = BENCH / ".venv-lifetimes"
LIFETIMES_REQUIREMENTS = BENCH / "lifetimes-requirements.txt"


@dataclass
class Measurement:
    """One timed run."""

    name: str
    seconds: float | None
    peak_mb: float | None
    wall_seconds: float
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.seconds is not None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def log(message: str) -> None:
    """Progress for the person running the benchmarks (stderr, so stdout stays a table)."""
    print(message, file=sys.stderr, flush=True)


REPEAT_BELOW = 120.0
"""Runs shorter than this (seconds) are repeated, up to :data:`ROUNDS` in all, and the
fastest is kept: the machine is shared, and the minimum is the run least disturbed."""

ROUNDS = 3


def run(
    name: str, command: list[str], *, timeout: float | None = None, repeat: bool = True
) -> Measurement:
    """Run ``command`` (again while it is quick, keeping the fastest run)."""
    return run_interleaved([(name, command, timeout)], rounds=ROUNDS if repeat else 1)[0]


def run_interleaved(
    jobs: Sequence[tuple[str, list[str], float | None]], *, rounds: int = ROUNDS
) -> list[Measurement]:
    """Run competing commands in turn (A B A B ...) so that both meet the same load.

    Each job is repeated up to ``rounds`` times unless a run fails, is capped, or takes
    longer than :data:`REPEAT_BELOW`; the fastest run of each is returned, with the
    seconds of all its runs in ``details["runs"]``.
    """
    best: dict[int, Measurement] = {}
    runs: list[list[float]] = [[] for _ in jobs]
    active = set(range(len(jobs)))
    for _ in range(rounds):
        for i, (name, command, timeout) in enumerate(jobs):
            if i not in active:
                continue
            m = _run_once(name, command, timeout=timeout)
            if i not in best or _faster(m, best[i]):
                best[i] = m
            if m.seconds is not None and m.ok:
                runs[i].append(m.seconds)
            if not m.ok or m.seconds is None or m.seconds >= REPEAT_BELOW:
                active.discard(i)
        if not active:
            break
    for i, m in best.items():
        m.details["runs"] = runs[i]
    return [best[i] for i in range(len(jobs))]


def _faster(a: Measurement, b: Measurement) -> bool:
    if not a.ok or a.seconds is None:
        return False
    return not b.ok or b.seconds is None or a.seconds < b.seconds


def _run_once(name: str, command: list[str], *, timeout: float | None) -> Measurement:
    """Run ``command`` and read its ``@@RESULT`` line; kill it after ``timeout`` seconds."""
    log(f"  {name} ...")
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        began = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=err)
        status, usage = _reap(process, timeout)
        wall = time.perf_counter() - began
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    peak_mb = usage.ru_maxrss / 1024 if usage is not None else None  # Linux: kilobytes
    if status is None:
        log(f"    stopped after {timeout:.0f} s (cap)")
        return Measurement(name, None, peak_mb, wall, error=f"timeout after {timeout:.0f} s")
    result = next(
        (
            json.loads(line[len(RESULT_PREFIX) :])
            for line in stdout.splitlines()
            if line.startswith(RESULT_PREFIX)
        ),
        None,
    )
    if status != 0 or result is None:
        tail = "\n".join(stderr.strip().splitlines()[-5:])
        log(f"    failed (exit {status}): {tail}")
        return Measurement(name, None, peak_mb, wall, error=f"exit {status}: {tail}")
    seconds = float(result.pop("seconds"))
    log(f"    {seconds:.2f} s, peak {peak_mb:.0f} MB" if peak_mb else f"    {seconds:.2f} s")
    return Measurement(name, seconds, peak_mb, wall, details=result)


#: A finished step in the CLI's progress output: "✓ Computing per-customer features (12.6 s)".
_STEP = re.compile(r"^\s*✓ (?P<step>.+) \((?P<seconds>[0-9.]+) s\)\s*$")


def progress_steps(stderr: str) -> dict[str, float]:
    """The step times of a CLI run's progress output (carriage returns as new lines).

    >>> progress_steps("✓ Validating rows (17.6 s)\\r\\n  note\\n✓ Features (2.0 s)")
    {'Validating rows': 17.6, 'Features': 2.0}
    """
    lines = stderr.replace("\r", "\n").splitlines()
    found = (_STEP.match(line) for line in lines)
    return {m["step"]: float(m["seconds"]) for m in found if m}


def run_command(
    name: str, command: list[str], *, timeout: float | None = None, steps: bool = False
) -> Measurement:
    """Time a whole command (e.g. the CLI) from the outside: seconds = wall time.

    With ``steps``, the step times of its progress output go to ``details["steps"]``.
    """
    log(f"  {name} ...")
    with tempfile.TemporaryFile("w+") as err:
        began = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
        status, usage = _reap(process, timeout)
        wall = time.perf_counter() - began
        err.seek(0)
        stderr = err.read()
    peak_mb = usage.ru_maxrss / 1024 if usage is not None else None
    if status is None:
        return Measurement(name, None, peak_mb, wall, error=f"timeout after {timeout:.0f} s")
    if status != 0:
        tail = "\n".join(stderr.strip().splitlines()[-5:])
        log(f"    failed (exit {status}): {tail}")
        return Measurement(name, None, peak_mb, wall, error=f"exit {status}: {tail}")
    log(f"    {wall:.2f} s, peak {peak_mb:.0f} MB" if peak_mb else f"    {wall:.2f} s")
    details: dict[str, Any] = {"steps": progress_steps(stderr)} if steps else {}
    return Measurement(name, wall, peak_mb, wall, details)


def _reap(process: subprocess.Popen[bytes], timeout: float | None) -> tuple[int | None, Any]:
    """Wait for ``process`` with ``os.wait4`` (its own rusage); kill it past ``timeout``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, usage
        if deadline is not None and time.monotonic() > deadline:
            process.kill()
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            return None, usage
        time.sleep(0.05)


def project_task(name: str, **arguments: Any) -> list[str]:
    """The command running ``benchmarks.tasks`` task ``name`` in this interpreter."""
    return [sys.executable, "-m", "benchmarks.tasks", name, json.dumps(arguments)]


def lifetimes_task(name: str, **arguments: Any) -> list[str]:
    """The command running a lifetimes task in ``benchmarks/.venv-lifetimes``."""
    python = LIFETIMES_VENV / "bin" / "python"
    return [str(python), str(BENCH / "lifetimes_tasks.py"), name, json.dumps(arguments)]


def ensure_lifetimes_venv() -> bool:
    """Create ``benchmarks/.venv-lifetimes`` with the pinned lifetimes on first use.

    Returns False (and says why) when it cannot be created, e.g. without network access.
    """
    wanted = hashlib.sha256(LIFETIMES_REQUIREMENTS.read_bytes()).hexdigest()
    stamp = LIFETIMES_VENV / ".requirements-sha256"
    if stamp.exists() and stamp.read_text().strip() == wanted:
        return True
    log(
        f"Creating {LIFETIMES_VENV.relative_to(ROOT)} for the lifetimes baseline (first use: "
        f"pip installs {LIFETIMES_REQUIREMENTS.name} from PyPI; the project's venv is not "
        "touched) ..."
    )
    python = LIFETIMES_VENV / "bin" / "python"
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(LIFETIMES_VENV)],
        [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
        [str(python), "-m", "pip", "install", "--quiet", "-r", str(LIFETIMES_REQUIREMENTS)],
    ]
    for step in steps:
        done = subprocess.run(step, cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log(f"  could not create it: {done.stderr.strip().splitlines()[-1:]}")
            return False
    stamp.write_text(wanted + "\n")
    log("  done.")
    return True
