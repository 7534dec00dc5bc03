"""Connecting by URL: a missing driver names the install that brings it."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import ibis
import pytest

from corecustomers.config import init_config_text, settings_from_mapping
from corecustomers.data.connect import connect, connect_engine
from corecustomers.data.readers import read_error, read_source
from corecustomers.errors import ConfigError, SourceError


def _without_driver(monkeypatch: pytest.MonkeyPatch, backend: str, driver: str) -> None:
    """Make this process look like one where ``driver`` was never installed."""
    for name in list(sys.modules):
        if (
            name == driver
            or name.startswith(f"{driver}.")
            or name.startswith(f"ibis.backends.{backend}")
        ):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, driver, None)  # `import driver` raises ImportError
    if backend in vars(ibis):  # Ibis caches a backend it loaded once as a module attribute
        monkeypatch.delattr(ibis, backend)


def test_missing_postgres_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_driver(monkeypatch, "postgres", "psycopg")
    with pytest.raises(SourceError) as caught:
        connect("postgresql://analyst:secret@127.0.0.1:5432/shop")
    message = str(caught.value)
    assert "pip install 'corecustomers[postgres]'" in message
    assert "ibis-framework" not in message  # not Ibis' own advice
    assert "secret" not in message


def test_missing_driver_without_an_extra_names_ibis_backend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _without_driver(monkeypatch, "mysql", "MySQLdb")
    with pytest.raises(SourceError, match=r"pip install 'ibis-framework\[mysql\]'"):
        connect("mysql://analyst@127.0.0.1:3306/shop")


def test_unreachable_server_says_what_to_check() -> None:
    with pytest.raises(SourceError, match="server is running") as caught:
        connect("postgresql://postgres@127.0.0.1:1/test")
    assert "pip install" not in str(caught.value)  # the driver is there; the server is not


def test_duckdb_memory_limit_and_spill_folder_are_applied(tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    con = connect_engine("duckdb", memory_limit="1GB", temp_directory=str(spill))
    limit, folder = con.raw_sql(
        "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
    ).fetchone()
    assert limit == "953.6 MiB"  # DuckDB's own spelling of 1GB
    assert folder == str(spill)


def test_a_memory_limit_duckdb_cannot_read_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="memory_limit='lots'"):
        connect_engine("duckdb", memory_limit="lots")


def test_memory_settings_are_read_from_the_analysis_section() -> None:
    settings = settings_from_mapping(
        {"analysis": {"memory_limit": "4GB", "temp_directory": "/var/tmp/cc"}}
    )
    assert (settings.memory_limit, settings.temp_directory) == ("4GB", "/var/tmp/cc")
    with pytest.raises(ConfigError, match=r"analysis\.memory_limit"):
        settings_from_mapping({"analysis": {"memory_limit": "plenty"}})
    assert "memory_limit" in init_config_text() and "temp_directory" in init_config_text()


def test_running_out_of_memory_names_the_setting_not_a_damaged_file(tmp_path: Path) -> None:
    path = tmp_path / "tx.parquet"
    con = connect_engine("duckdb")
    con.raw_sql(f"COPY (SELECT 'C1' AS customer_id, 1.0 AS amount) TO '{path}' (FORMAT parquet)")
    raw = read_source(str(path), con=con)
    # what DuckDB raises past memory_limit when it cannot spill (seen on 10M rows at 1GB)
    oom = duckdb.OutOfMemoryException("Out of Memory Error: failed to pin block of size 256 KiB")
    error = read_error(raw, oom)
    assert isinstance(error, ConfigError)
    assert "memory_limit" in str(error) and "damaged" not in str(error)
    # a real read failure of the file still says so
    other = read_error(raw, duckdb.InvalidInputException("Invalid Input Error: bad page"))
    assert isinstance(other, SourceError) and "damaged" in str(other)
