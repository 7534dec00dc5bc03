"""The customers' output files, written beside the rest of an analysis' end.

``customers.parquet`` and ``customers.csv`` need only the final customers table. On a
million customers they are the longest writes of the run (the CSV is ~1.5 GB of text,
~5 s of one core in Arrow, which releases the GIL), so :class:`CustomerFiles` starts
them as soon as that table is final: beside the snapshot's database write,
``summary.json`` and the report, instead of after them. A large CSV is formatted in
parts of :data:`CSV_PART_ROWS` rows on two threads and written in order by a third
(:data:`CSV_PARTS_FROM`): the last of the run's work, it then has both cores once the
snapshot is saved, and no part is copied again (two halves written to two files and
joined copied the second half's 750 MB once more, ~1.3-1.8 s of one core at the
run's very end). Each file is written under a temporary name and moved into place only by
:meth:`CustomerFiles.publish`, once the steps before it have succeeded: a run that fails
after the writes started (say the snapshot's database refuses its rows) leaves the
earlier run's files as they were, and no temporary file.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from types import TracebackType
from typing import Final

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

__all__ = ["CUSTOMER_FILES", "CustomerFiles", "write_table"]

#: The files :class:`CustomerFiles` writes, in the output folder.
CUSTOMER_FILES = ("customers.parquet", "customers.csv")

#: From this many rows on :class:`CustomerFiles` formats the CSV in parts on two threads.
#: Arrow's CSV writer formats each row on its own, so the parts written one after the
#: other are the same bytes as the whole written in one go.
CSV_PARTS_FROM: Final = 100_000

#: The rows of one part (on a million customers, about 15 MB of text each).
CSV_PART_ROWS: Final = 10_000

#: At most this many parts are formatted and not yet written: the memory the parts hold
#: stays a few tens of MB whichever thread is slower.
CSV_PARTS_AHEAD: Final = 4


def write_table(table: pa.Table, path: Path) -> None:
    """Write ``table`` to ``path`` (Parquet, or CSV in UTF-8 with a BOM) under a temporary
    name, renamed into place once whole; on an error the temporary file is removed and
    an earlier ``path`` stays as it was."""
    _temporary(table, path).replace(path)


def _temporary(table: pa.Table, path: Path) -> Path:
    """``table`` written whole beside ``path`` under a temporary name, which is returned;
    removed again on an error."""
    return _written(table, _tmp(path), csv=path.suffix.lower() != ".parquet")


def _tmp(path: Path, part: str = "") -> Path:
    """The temporary name ``path`` (or a ``part`` of it) is written under."""
    return path.with_name(f"{path.name}{part}.tmp")


def _written(table: pa.Table, tmp: Path, *, csv: bool) -> Path:
    """``table`` written whole to ``tmp`` (Parquet, or CSV: the BOM and the header line
    first), which is returned; removed again on an error."""
    try:
        if not csv:
            pq.write_table(table, tmp)
        else:
            # Arrow's own file, not Python's: each of the writer's batches would take
            # the interpreter lock for Python's ``write``, and the CSV is written on a
            # thread beside the snapshot and the report, which then wait for that lock
            with pa.OSFile(str(tmp), "wb") as fh:
                fh.write(b"\xef\xbb\xbf")
                pacsv.write_csv(table, fh)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _written_in_parts(table: pa.Table, tmp: Path, formatter: ThreadPoolExecutor) -> Path:
    """``table`` written to ``tmp`` as CSV (the BOM, the header, the rows), its parts
    formatted by ``formatter`` (:func:`_csv_part`) and written here in order; ``tmp``
    is returned, or removed on an error (in a part or in the write)."""
    pending: deque[Future[pa.Buffer]] = deque()
    try:
        with pa.OSFile(str(tmp), "wb") as fh:
            fh.write(b"\xef\xbb\xbf")
            for start in range(0, table.num_rows, CSV_PART_ROWS):
                part = table.slice(start, CSV_PART_ROWS)
                pending.append(formatter.submit(_csv_part, part, start == 0))
                if len(pending) >= CSV_PARTS_AHEAD:
                    fh.write(pending.popleft().result())
            while pending:
                fh.write(pending.popleft().result())
    except BaseException:
        for future in pending:
            future.cancel()
        wait(pending)
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _csv_part(part: pa.Table, head: bool) -> pa.Buffer:
    """The CSV text of ``part`` (with the header line when ``head``)."""
    sink = pa.BufferOutputStream()
    pacsv.write_csv(part, sink, pacsv.WriteOptions(include_header=head))
    return sink.getvalue()


class CustomerFiles:
    """``customers.parquet`` and ``customers.csv`` of ``folder``, written on threads of
    their own from :meth:`start` on and moved into place by :meth:`publish`.

    Used as a context manager: leaving it without :meth:`publish` (an error in the
    analysis, or in the writes themselves) waits for the writes and removes their
    temporary files.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with CustomerFiles(folder) as files:
    ...     files.start(pa.table({"customer_id": ["a", "b"], "value": [1.0, 2.0]}))
    ...     sorted(p.name for p in files.publish().values())
    ['customers.csv', 'customers.parquet']
    >>> sorted(p.name for p in folder.iterdir())
    ['customers.csv', 'customers.parquet']
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        # the Parquet file and the CSV's writer; the CSV's parts formatted on two more
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="corecustomers-files")
        self._parts = ThreadPoolExecutor(max_workers=2, thread_name_prefix="corecustomers-csv")
        self._writes: dict[str, Future[Path]] = {}

    @property
    def started(self) -> bool:
        """Whether :meth:`start` was called."""
        return bool(self._writes)

    def start(self, customers: pa.Table) -> None:
        """Start writing ``customers`` (the final table, plain text columns) to both files.

        The CSV starts first (in parts from :data:`CSV_PARTS_FROM` rows): it takes
        longest.
        """
        if self._writes:
            raise RuntimeError("the customers' files are already being written")
        csv, parquet = self.folder / "customers.csv", self.folder / "customers.parquet"
        if customers.num_rows < CSV_PARTS_FROM:
            self._writes["customers.csv"] = self._pool.submit(_temporary, customers, csv)
        else:
            self._writes["customers.csv"] = self._pool.submit(
                _written_in_parts, customers, _tmp(csv), self._parts
            )
        self._writes["customers.parquet"] = self._pool.submit(_temporary, customers, parquet)

    def publish(self) -> dict[str, Path]:
        """Wait for both writes and move the files into place (an error in a write is
        raised here); returns their paths by name."""
        if not self._writes:
            raise RuntimeError("the customers' files were not started")
        written = {name: future.result() for name, future in self._writes.items()}
        paths = {name: written[name].replace(self.folder / name) for name in CUSTOMER_FILES}
        self._writes.clear()
        return paths

    def discard(self) -> None:
        """Wait for the writes still running and remove their temporary files."""
        wait(self._writes.values())
        for future in self._writes.values():
            if future.exception() is None:
                future.result().unlink(missing_ok=True)
        self._writes.clear()

    def __enter__(self) -> CustomerFiles:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            self.discard()  # nothing left after publish()
        finally:
            self._pool.shutdown(wait=True)
            self._parts.shutdown(wait=True)
