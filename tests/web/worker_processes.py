"""``corecustomers worker`` processes started by a test and always stopped after it.

The tests that kill a worker mid-job (``test_masterdata_worker.py``,
``loyalty/test_loyalty_worker.py``, ``test_runs.py``, ``contact/test_contact_crash.py``) start real worker processes writing to one log; the
``workers`` fixture of ``tests/web/conftest.py`` stops those still running when the test
ends, however it ends.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import IO

CLI = Path(sys.executable).parent / "corecustomers"


class Workers:
    """The worker processes of one test, all writing to :attr:`log`."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self._started: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []

    def start(
        self, workspace: Path, url: str, env: dict[str, str], *, cwd: Path | None = None
    ) -> subprocess.Popen[bytes]:
        """Start ``corecustomers worker`` on ``workspace`` and the database at ``url``."""
        handle = self.log.open("ab")
        process = subprocess.Popen(
            [str(CLI), "worker", "--workspace", str(workspace), "--db", url],
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=cwd,
        )
        self._started.append((process, handle))
        return process

    def stop(self) -> None:
        """Terminate the workers still running (killed after 15 s) and close the log."""
        for process, handle in self._started:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=15)
            handle.close()
