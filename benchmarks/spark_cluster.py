"""A Spark standalone cluster on this machine, from the installed PySpark.

A master and ``workers`` workers (``spark-class org.apache.spark.deploy.master.Master`` /
``…worker.Worker``) on 127.0.0.1 with free ports; the context manager waits until every
worker has registered and stops them all (process groups) at the end. Used by the cluster
test (``tests/service/test_spark_cluster.py``) and the scaling benchmark
(``python -m benchmarks.cluster``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


class ClusterError(RuntimeError):
    """The cluster did not come up; the message holds the tail of each process's log."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spark_home() -> Path:
    """The folder of the installed PySpark (it carries ``bin/spark-class`` and the jars)."""
    import pyspark

    return Path(pyspark.__file__).parent


def _alive_workers(webui: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{webui}/json/", timeout=5) as r:
            state = json.load(r)
    except OSError:
        return 0
    return sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")


@contextmanager
def standalone(
    scratch: Path,
    *,
    workers: int = 2,
    cores: int = 1,
    memory: str = "1g",
    startup: float = 180.0,
) -> Iterator[str]:
    """Start a master and ``workers`` workers; yield the master's ``spark://`` URL.

    ``memory`` must be at least the executors' memory (Spark's default 1 GB): a smaller
    worker never starts an executor and every job waits for resources forever.
    """
    home = spark_home()
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(scratch / "logs"),
        "SPARK_NO_DAEMONIZE": "1",
        "PYSPARK_PYTHON": sys.executable,
    }
    port, webui = _free_port(), _free_port()
    spark_class = str(home / "bin" / "spark-class")
    logs: list[IO[bytes]] = []
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, *args: str) -> None:
        log = (scratch / f"{name}.log").open("wb")
        logs.append(log)
        procs.append(
            subprocess.Popen(
                [spark_class, *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # the JVM and its children stop together
            )
        )

    master = f"spark://127.0.0.1:{port}"
    try:
        start(
            "master",
            "org.apache.spark.deploy.master.Master",
            "--host", "127.0.0.1", "--port", str(port), "--webui-port", str(webui),
        )  # fmt: skip
        for i in range(1, workers + 1):
            start(
                f"worker{i}",
                "org.apache.spark.deploy.worker.Worker",
                master,
                "--host", "127.0.0.1", "--cores", str(cores), "--memory", memory,
                "--webui-port", str(_free_port()), "--work-dir", str(scratch / f"work{i}"),
            )  # fmt: skip
        deadline = time.monotonic() + startup
        while _alive_workers(webui) < workers:
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                tails = {
                    Path(f.name).name: Path(f.name).read_text(errors="replace")[-2000:]
                    for f in logs
                }
                raise ClusterError(
                    f"the Spark cluster did not come up with {workers} workers: {tails}"
                )
            time.sleep(1)
        yield master
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for log in logs:
            log.close()
