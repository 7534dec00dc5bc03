"""Shared fixtures: one connection per backend, each made once per test session.

* ``duckdb_con`` -- an in-memory DuckDB (Ibis) connection.
* ``spark_session`` / ``spark_con`` -- one local PySpark session (``local[2]``, no UI,
  UTC session time zone, 2 shuffle partitions), started on first use and always stopped
  at the end of the session. Its scratch directories live in a session temporary folder.
* Hypothesis keeps its files (example database, constants cache) in a temporary folder
  for the run rather than in ``.hypothesis/`` in the working tree.
* Hypothesis runs derandomised everywhere (profile ``corecustomers``): every property
  test draws the same examples on every run, so a failure found once replays.
* ``postgres_con`` -- PostgreSQL at ``postgresql://postgres@127.0.0.1:5432/test`` (trust
  auth; ``CORECUSTOMERS_TEST_POSTGRES_URL`` overrides it). Off CI, tests using it are
  skipped, with the reason, when the server cannot be reached; with ``CI`` set (as
  ``.ci/run`` runs) an unreachable server is an error, so CI cannot go green without it.
  Tests make their own tables (temporary, or dropped at the end).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import pytest

if TYPE_CHECKING:
    from ibis.backends.duckdb import Backend as DuckDBBackend
    from ibis.backends.postgres import Backend as PostgresBackend
    from ibis.backends.pyspark import Backend as PySparkBackend

POSTGRES_URL = os.environ.get(
    "CORECUSTOMERS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


_HYPOTHESIS_HOME = pytest.StashKey[Path]()

#: The test files that take longest, slowest first (seconds with two xdist workers at load
#: 8-12, 2026-12-05). They start first, so that with ``--dist loadfile`` the run does not
#: end on one worker still busy with a long file while the other waits.
SLOW_FILES = (
    "tests/service/test_spark_cluster.py",  # ~545 s: a standalone cluster, two analyses
    "tests/web/test_runs.py",  # ~520 s: real workers running CDNOW analyses
    "tests/web/faults/test_faults_workers.py",  # ~450 s: a worker killed per job kind
    "tests/cli/test_bad_input.py",  # ~300 s
    "tests/web/test_schemathesis.py",  # ~205 s
    "tests/web/test_backup.py",  # ~200 s
    "tests/web/test_masterdata_worker.py",  # ~186 s
    "tests/cli/test_sources_cli.py",  # ~145 s
    "tests/service/test_core_customers.py",  # ~120 s
    "tests/service/test_early_warnings.py",  # ~110 s
    "tests/service/test_golden_outputs.py",  # ~100 s
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the slowest files first (whole files, each file's own order unchanged)."""
    root = Path(str(config.rootpath))
    rank = {root / name: position for position, name in enumerate(SLOW_FILES)}
    items.sort(key=lambda item: rank.get(Path(str(item.path)), len(SLOW_FILES)))


def pytest_configure(config: pytest.Config) -> None:
    """Derandomise Hypothesis and keep its files out of the working tree.

    The profile is loaded before the test modules are imported, so each test's own
    ``@settings`` inherits ``derandomize=True`` unless it says otherwise. Hypothesis caches
    the constants of the test modules already at collection time, in ``.hypothesis/``
    under the current directory; point it at a temporary folder instead, removed when
    pytest ends.
    """
    try:
        from hypothesis import settings
        from hypothesis.configuration import set_hypothesis_home_dir
    except ImportError:  # hypothesis is a dev dependency; nothing to set up without it
        return
    settings.register_profile("corecustomers", derandomize=True, database=None)
    settings.load_profile("corecustomers")
    home = Path(tempfile.mkdtemp(prefix="corecustomers-hypothesis-"))
    config.stash[_HYPOTHESIS_HOME] = home
    set_hypothesis_home_dir(home)


def pytest_unconfigure(config: pytest.Config) -> None:
    home = config.stash.get(_HYPOTHESIS_HOME, None)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def duckdb_con() -> Iterator[DuckDBBackend]:
    """An in-memory DuckDB connection shared by the session."""
    con = ibis.duckdb.connect()
    yield con
    con.disconnect()


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A local Spark session, started once and stopped at the end of the test session."""
    pyspark_sql = pytest.importorskip("pyspark.sql", reason="pyspark is not installed")
    scratch: Path = tmp_path_factory.mktemp("spark")
    builder = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("corecustomers-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.local.dir", str(scratch / "local"))
        .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={scratch / 'derby'}")
        .config("spark.ui.showConsoleProgress", "false")
    )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture(scope="session")
def spark_con(spark_session: Any) -> PySparkBackend:
    """The Ibis PySpark backend on the shared local session."""
    return ibis.pyspark.connect(spark_session)


@pytest.fixture(scope="session")
def postgres_con() -> Iterator[PostgresBackend]:
    """An Ibis connection to the test database; skips when unreachable, except on CI."""
    try:
        con = ibis.connect(POSTGRES_URL)
    except Exception as exc:
        reason = f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}"
        if os.environ.get("CI"):
            pytest.fail(
                f"{reason}\n(CI is set: .ci/run starts the server and makes the "
                "`test` database; a skip here would hide the PostgreSQL tests)",
                pytrace=False,
            )
        pytest.skip(reason)
    yield con
    con.disconnect()
