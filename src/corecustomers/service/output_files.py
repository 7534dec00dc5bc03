"""The customers' output files, written beside the rest of an analysis' end.

``customers.parquet`` and ``customers.csv`` need only the final customers table. On a
million customers they are the longest writes of the run (the CSV is ~1.5 GB of text,
~6 s of one core in Arrow, which releases the GIL), so :class:`CustomerFiles` starts
them as soon as that table is final: beside the snapshot's database write,
``summary.json`` and the report, instead of after them. A large CSV is written in two
halves at once (:data:`CSV_HALVES_FROM`), the second appended to the first when both are
done: the last of the run's work, it then has both cores once the snapshot is saved.
Each file is written under a temporary name and moved into place only by
:meth:`CustomerFiles.publish`, once the steps before it have succeeded: a run that fails
after the writes started (say the snapshot's database refuses its rows) leaves the
earlier run's files as they were, and no temporary file.
"""

from __future__ import annotations

import shutil
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

#: From this many rows on :class:`CustomerFiles` writes the CSV in two halves at once.
#: Arrow's CSV writer runs on one thread and formats each row on its own, so the halves
#: joined are the same bytes as the whole written in one go.
CSV_HALVES_FROM: Final = 100_000


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


def _written(table: pa.Table, tmp: Path, *, csv: bool, head: bool = True) -> Path:
    """``table`` written whole to ``tmp`` (Parquet, or CSV: with ``head`` the BOM and the
    header line first), which is returned; removed again on an error."""
    try:
        if not csv:
            pq.write_table(table, tmp)
        else:
            # Arrow's own file, not Python's: each of the writer's batches would take
            # the interpreter lock for Python's ``write``, and the CSV is written on a
            # thread beside the snapshot and the report, which then wait for that lock
            with pa.OSFile(str(tmp), "wb") as fh:
                if head:
                    fh.write(b"\xef\xbb\xbf")
                pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=head))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _joined(first: Future[Path], second: Future[Path]) -> Path:
    """The file of ``first`` with the file of ``second`` appended (and removed), once both
    writes are done; on an error in either, neither file is left."""
    wait((first, second))
    if first.exception() is None and second.exception() is None:
        try:
            with first.result().open("ab") as out, second.result().open("rb") as rest:
                shutil.copyfileobj(rest, out, 16 << 20)
            return first.result()
        except BaseException:
            first.result().unlink(missing_ok=True)
            raise
        finally:
            second.result().unlink(missing_ok=True)
    for part in (first, second):
        if part.exception() is None:
            part.result().unlink(missing_ok=True)
    raise first.exception() or second.exception()  # type: ignore[misc]


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
        # the Parquet file and the CSV's two halves; the halves' join once one is done
        self._pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="corecustomers-files")
        self._writes: dict[str, Future[Path]] = {}

    @property
    def started(self) -> bool:
        """Whether :meth:`start` was called."""
        return bool(self._writes)

    def start(self, customers: pa.Table) -> None:
        """Start writing ``customers`` (the final table, plain text columns) to both files.

        The CSV starts first (in two halves from :data:`CSV_HALVES_FROM` rows): it takes
        longest.
        """
        if self._writes:
            raise RuntimeError("the customers' files are already being written")
        csv, parquet = self.folder / "customers.csv", self.folder / "customers.parquet"
        if customers.num_rows < CSV_HALVES_FROM:
            self._writes["customers.csv"] = self._pool.submit(_temporary, customers, csv)
            self._writes["customers.parquet"] = self._pool.submit(_temporary, customers, parquet)
            return
        half = customers.num_rows // 2
        first = self._pool.submit(_written, customers.slice(0, half), _tmp(csv), csv=True)
        second = self._pool.submit(
            _written, customers.slice(half), _tmp(csv, ".2"), csv=True, head=False
        )
        self._writes["customers.parquet"] = self._pool.submit(_temporary, customers, parquet)
        # submitted last: the join takes a thread only once one of the writes is done
        self._writes["customers.csv"] = self._pool.submit(_joined, first, second)

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
