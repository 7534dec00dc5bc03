"""Erasure beyond the service database: the workspace and the files the service keeps.

* **The workspace** (the DuckDB file of snapshots, runs and overrides): opened like the
  worker and the command line open it (one process at a time, waiting with backoff while
  another holds it); in every text column of every table, the customer's id becomes their
  erased id (``erased:…``, the same as in the service database) and any other identifier
  ``[erased]``; then, still holding the file's exclusive lock, the whole database is
  copied into a new file (``COPY FROM DATABASE``: live rows only) that replaces the old
  one, so the bytes of the old values are in no file any more. A workspace in PostgreSQL
  (by URL) has the same replacements in its tables (``snapshots``, ``runs``,
  ``overrides``; the service's own tables may share the database), then ``VACUUM FULL``.
* **Files** the service keeps: everything under its folder (``.corecustomers``: uploaded
  master-data and source files, the analyses it ran, the interactions and survey exports,
  the outbox) and the output folders of the analyses it loaded (the run markers of
  :mod:`corecustomers.store.outputs`). Parquet files are rewritten column by column, Excel
  workbooks cell by cell, text files (CSV, JSON, HTML, e-mails …, in UTF-8 or GB18030)
  value by value, each written beside and renamed into place; a file of any other kind
  that names the customer is removed. The service's own database files, the workspace,
  the secrets and the suppression list are not touched here.

Replacing the id by the erased id (rather than deleting rows) keeps every count and total
in those files as it was; the erased id is on the suppression list as well, so no import or
analysis picks such a row up.
"""

from __future__ import annotations

import contextlib
import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.conf import settings

from corecustomers.data.atomic import remove_leftovers, replacing
from corecustomers.store import Workspace, open_duckdb
from corecustomers.store.outputs import recorded_outputs
from corecustomers.web.privacy.matching import Identifiers

__all__ = ["Replacer", "scrub_files", "scrub_workspace", "stored_files"]

_TEXT = {".csv", ".tsv", ".txt", ".json", ".jsonl", ".html", ".htm", ".eml", ".xml", ".md"}
_EXCEL = {".xlsx", ".xlsm"}
_SKIP_NAMES = {"secrets.json", "suppression.json"}
#: At the top of the service folder: static files, and the journals of erasures in
#: progress (:mod:`.journal`: they hold the identifiers until the erasure is done).
_SKIP_DIRS = {"static", "erasing"}
_DB_SUFFIXES = (".duckdb", ".duckdb.wal", ".sqlite3", ".sqlite3-wal", ".sqlite3-shm", ".serving")


class Replacer:
    """One customer's identifiers and what replaces them."""

    def __init__(self, ids: Identifiers, erased_id: str) -> None:
        self.ids = ids
        self.erased_id = erased_id
        spellings = ids.spellings
        self.spellings = spellings
        needles: set[bytes] = set()
        for s in spellings:
            needles.add(s.encode("utf-8"))
            with contextlib.suppress(UnicodeEncodeError):
                needles.add(s.encode("gb18030"))
        self.needles = sorted(needles, key=len, reverse=True)

    def in_bytes(self, data: bytes) -> bool:
        return any(n in data for n in self.needles)

    def text(self, value: str) -> str:
        return self.ids.replace(value, self.erased_id)


# -- the workspace -------------------------------------------------------------------


def _duckdb_file(location: str) -> Path | None:
    if "://" in location:
        return None
    return Workspace.default_path(location)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def scrub_workspace(
    replacer: Replacer,
    location: str | None = None,
    *,
    rewrite: bool = False,
    on_replaced: Callable[[dict[str, int]], None] | None = None,
) -> dict[str, Any]:
    """Replace the customer's identifiers in the workspace and rewrite its file.

    The values are replaced in one transaction (a process killed meanwhile leaves them
    all as they were); ``on_replaced`` is called with the rows replaced once it commits,
    before the rewrite. ``rewrite``: rewrite the file even if no value is found (an
    earlier attempt replaced them and was killed before its rewrite: the old bytes are
    still in the file's free blocks).

    Raises
    ------
    corecustomers.errors.SourceError
        The workspace stayed in use by another process (nothing was changed).
    """
    where = str(location or settings.WORKSPACE)
    path = _duckdb_file(where)
    if path is None and where.split("://")[0].split("+")[0] in {"postgresql", "postgres"}:
        return _scrub_postgres(replacer, where, vacuum_all=rewrite, on_replaced=on_replaced)
    if path is None:
        return {"kind": "url", "rewritten": False, "note": "a workspace by URL is not rewritten"}
    if not path.exists() or not (replacer.spellings or rewrite):
        return {"kind": "duckdb", "rows": {}, "rewritten": False}
    backend = open_duckdb(path)
    con: Any = backend.con  # type: ignore[attr-defined]
    rows: dict[str, int] = {}
    try:
        catalog = con.execute("SELECT current_database()").fetchone()[0]
        con.execute("BEGIN TRANSACTION")
        columns = con.execute(
            "SELECT c.table_schema, c.table_name, c.column_name "
            "FROM information_schema.columns c JOIN information_schema.tables t "
            "ON t.table_catalog = c.table_catalog AND t.table_schema = c.table_schema "
            "AND t.table_name = c.table_name "
            "WHERE c.table_catalog = ? AND t.table_type = 'BASE TABLE' "
            "AND c.data_type = 'VARCHAR' ORDER BY 1, 2, 3",
            [catalog],
        ).fetchall()
        for schema, table, column in columns if replacer.spellings else []:
            target = f"{_quote(schema)}.{_quote(table)}"
            condition = " OR ".join(f"contains({_quote(column)}, ?)" for _ in replacer.spellings)
            found = con.execute(
                f"SELECT rowid, {_quote(column)} FROM {target} WHERE {condition}",
                replacer.spellings,
            ).fetchall()
            for rowid, value in found:
                new = replacer.text(value)
                if new != value:
                    con.execute(
                        f"UPDATE {target} SET {_quote(column)} = ? WHERE rowid = ?", [new, rowid]
                    )
                    key = f"{table}.{column}"
                    rows[key] = rows.get(key, 0) + 1
        con.execute("COMMIT")
        if on_replaced is not None:
            on_replaced(rows)
        if rows or rewrite:
            _rewrite(con, catalog, path)
    finally:
        backend.disconnect()
    return {"kind": "duckdb", "rows": rows, "rewritten": bool(rows or rewrite)}


def _rewrite(con: Any, catalog: str, path: Path) -> None:
    """Copy the live rows into a new file that replaces ``path``, holding its lock."""
    con.execute("CHECKPOINT")
    fresh = path.with_name(path.name + ".rewrite")
    for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
        leftover.unlink(missing_ok=True)
    literal = "'" + str(fresh).replace("'", "''") + "'"
    con.execute(f"ATTACH {literal} AS __cc_fresh")
    try:
        con.execute(f"COPY FROM DATABASE {_quote(catalog)} TO __cc_fresh")
    finally:
        con.execute("DETACH __cc_fresh")
    os.replace(fresh, path)


#: The workspace's tables (:mod:`corecustomers.store`); on PostgreSQL only these are
#: touched, as the service's own tables may share the database.
WORKSPACE_TABLES = ("snapshots", "runs", "overrides")


def _scrub_postgres(
    replacer: Replacer,
    url: str,
    *,
    vacuum_all: bool = False,
    on_replaced: Callable[[dict[str, int]], None] | None = None,
) -> dict[str, Any]:
    """The workspace's tables in PostgreSQL (the URL's default schema): identifiers
    replaced in one transaction, then ``VACUUM FULL`` of the tables changed (of all of
    them with ``vacuum_all``: an earlier attempt was killed before its VACUUM)."""
    import psycopg
    from psycopg import sql

    conninfo = "postgresql://" + url.split("://", 1)[1]
    rows: dict[str, int] = {}
    if not (replacer.spellings or vacuum_all):
        return {"kind": "postgresql", "rows": rows, "vacuumed": []}
    with psycopg.connect(conninfo) as con:
        columns = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ANY(%s) "
            "AND data_type IN ('text', 'character varying') ORDER BY 1, 2",
            [list(WORKSPACE_TABLES)],
        ).fetchall()
        present = sorted({table for table, _ in columns})
        for table, column in columns if replacer.spellings else []:
            name, col = sql.Identifier(table), sql.Identifier(column)
            condition = sql.SQL(" OR ").join(
                sql.SQL("strpos({}, %s) > 0").format(col) for _ in replacer.spellings
            )
            found = con.execute(
                sql.SQL("SELECT ctid::text, {} FROM {} WHERE {}").format(col, name, condition),
                replacer.spellings,
            ).fetchall()
            for ctid, value in found:
                new = replacer.text(value)
                if new != value:
                    con.execute(
                        sql.SQL("UPDATE {} SET {} = %s WHERE ctid = %s::tid").format(name, col),
                        [new, ctid],
                    )
                    rows[f"{table}.{column}"] = rows.get(f"{table}.{column}", 0) + 1
    if on_replaced is not None:
        on_replaced(rows)
    changed = present if vacuum_all else sorted({key.split(".")[0] for key in rows})
    if changed:
        with psycopg.connect(conninfo, autocommit=True) as con:
            for table in changed:
                con.execute(sql.SQL("VACUUM (FULL) {}").format(sql.Identifier(table)))
    return {"kind": "postgresql", "rows": rows, "vacuumed": changed}


# -- files -----------------------------------------------------------------------------


def _roots(location: str) -> list[Path]:
    roots = [Path(settings.SERVICE_FOLDER)]
    outbox = os.environ.get("CORECUSTOMERS_OUTBOX_FOLDER", "").strip()
    if outbox:
        roots.append(Path(outbox))
    with contextlib.suppress(Exception):  # a damaged marker does not stop the erasure
        roots.extend(output.folder for output in recorded_outputs(location))
    unique: list[Path] = []
    for root in roots:
        resolved = root.resolve()
        if resolved.is_dir() and not any(resolved.is_relative_to(u) for u in unique):
            unique = [u for u in unique if not u.is_relative_to(resolved)] + [resolved]
    return unique


def _database_files() -> set[Path]:
    name = str(settings.DATABASES["default"].get("NAME") or "")
    if not name or settings.DATABASES["default"]["ENGINE"].split(".")[-1] != "sqlite3":
        return set()
    base = Path(name).resolve()
    return {base, *(base.with_name(base.name + s) for s in ("-wal", "-shm", "-journal"))}


def stored_files(location: str | None = None) -> Iterator[Path]:
    """Every file the service keeps that may hold customer data (see the module)."""
    where = str(location or settings.WORKSPACE)
    skip = _database_files()
    service = Path(settings.SERVICE_FOLDER).resolve()
    for root in _roots(where):
        for folder, dirs, names in os.walk(root):
            here = Path(folder)
            if here == service:
                dirs[:] = [d for d in dirs if d not in _SKIP_DIRS]
            remove_leftovers(here, _PARTIAL, suffix="")  # killed erasures' copies
            for name in names:
                path = here / name
                if (
                    path.resolve() in skip
                    or name in _SKIP_NAMES
                    or name.endswith(_DB_SUFFIXES)
                    or name.startswith(".")
                ):
                    continue
                yield path


_PARTIAL = ".erase-"


def _replace_file(path: Path, write: Any) -> None:
    """Write ``path`` anew beside it (``write(temporary)``) and rename it into place, with
    the permissions it had (:func:`corecustomers.data.atomic.replacing`)."""
    mode = path.stat().st_mode & 0o777
    with replacing(path, prefix=_PARTIAL, suffix=path.suffix, mode=mode) as temporary:
        write(temporary)


def _scrub_parquet(path: Path, replacer: Replacer) -> bool:
    table = pq.read_table(path)
    columns, changed = [], False
    for field, column in zip(table.schema, table.columns, strict=True):
        kind = field.type
        if pa.types.is_dictionary(kind):
            column = column.cast(kind.value_type)
            kind = kind.value_type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            hit = False
            for spelling in replacer.spellings:
                if pc.any(pc.match_substring(column, spelling)).as_py():
                    hit = True
                    break
            if hit:
                values = [None if v is None else replacer.text(v) for v in column.to_pylist()]
                column = pa.chunked_array([pa.array(values, type=kind)])
                changed = True
        columns.append(column.cast(field.type) if column.type != field.type else column)
    if changed:
        fixed = pa.Table.from_arrays(columns, schema=table.schema)
        _replace_file(path, lambda tmp: pq.write_table(fixed, tmp))
    return changed


def _zip_hit(path: Path, replacer: Replacer) -> bool:
    """Whether a member of the zip ``path`` names the customer (as a whole value)."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            data = archive.read(info)
            if replacer.in_bytes(data) and replacer.ids.found_in(data.decode("utf-8", "ignore")):
                return True
    return False


def _scrub_excel(path: Path, replacer: Replacer) -> bool:
    if not _zip_hit(path, replacer):
        return False
    import openpyxl

    book = openpyxl.load_workbook(path)
    changed = False
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    new = replacer.text(cell.value)
                    if new != cell.value:
                        cell.value = new
                        changed = True
    if changed:
        _replace_file(path, lambda tmp: book.save(tmp))
    return changed


def _scrub_text(path: Path, data: bytes, replacer: Replacer) -> bool:
    bom = b"\xef\xbb\xbf" if data.startswith(b"\xef\xbb\xbf") else b""
    for encoding in ("utf-8", "gb18030"):
        try:
            text = data[len(bom) :].decode(encoding)
        except UnicodeDecodeError:
            continue
        new = replacer.text(text)
        if new == text:
            return False
        body = bom + new.encode(encoding)
        _replace_file(path, lambda tmp, body=body: tmp.write_bytes(body))
        return True
    raise ValueError(f"{path.name} is neither UTF-8 nor GB18030 text")


def _binary_hit(data: bytes, replacer: Replacer) -> bool:
    """Whether a file we cannot rewrite names the customer: its bytes read as UTF-8,
    Latin-1 and UTF-16 (both alignments; what old Excel files hold), whole values only."""
    views = (
        data.decode("utf-8", "ignore"),
        data.decode("latin-1"),
        data.decode("utf-16-le", "ignore"),
        data[1:].decode("utf-16-le", "ignore"),
    )
    return any(replacer.ids.found_in(view) for view in views)


def scrub_file(path: Path, replacer: Replacer) -> str | None:
    """Clean one file; what was done (``None``: it does not name the customer)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return "rewritten" if _scrub_parquet(path, replacer) else None
        if suffix in _EXCEL:
            return "rewritten" if _scrub_excel(path, replacer) else None
        if suffix in _TEXT:
            data = path.read_bytes()
            if not replacer.in_bytes(data):
                return None
            return "rewritten" if _scrub_text(path, data, replacer) else None
        if zipfile.is_zipfile(path):
            hit = _zip_hit(path, replacer)
        else:
            hit = _binary_hit(path.read_bytes(), replacer)
    except (ValueError, zipfile.BadZipFile, pa.ArrowException, KeyError):
        # damaged, or not what its name says: removed if it names the customer anywhere
        hit = _binary_hit(path.read_bytes(), replacer)
    if hit:
        path.unlink()
        return "removed"
    return None


def scrub_files(
    replacer: Replacer,
    location: str | None = None,
    *,
    on_file: Callable[[str, str], None] | None = None,
) -> dict[str, str]:
    """Clean every stored file (see the module); ``{path: what was done}`` for those changed
    (``on_file(path, what)`` is called as each is done)."""
    done: dict[str, str] = {}
    if not replacer.spellings:
        return done
    service = Path(settings.SERVICE_FOLDER).resolve()
    for path in stored_files(location):
        action = scrub_file(path, replacer)
        if action is not None:
            resolved = path.resolve()
            shown = (
                str(resolved.relative_to(service))
                if resolved.is_relative_to(service)
                else str(resolved)
            )
            done[shown] = action
            if on_file is not None:
                on_file(shown, action)
    return done
