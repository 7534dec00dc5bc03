"""The benchmark's transactions with a realistic few bad rows, for ``summarize``.

:func:`write_with_bad_rows` copies the generator's clean file
(:func:`corecustomers.data.simulator.write_transactions`) row group by row group and
inserts, at random places of each group, copies of random rows that each carry one fault
a typed export really has: an empty or placeholder customer id, a missing or impossible
date (a sentinel year), a missing or NaN amount, and, most often, a row exported twice
(same order id and product). A total line closes the file. The copy is deterministic
for a seed, and its bad rows are what validation quarantines, one reason each.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

#: The faults, in the order of :data:`_WEIGHTS`, and the quarantine reason each gives.
FAULTS: tuple[tuple[str, str], ...] = (
    ("null customer", "missing_customer_id"),
    ("placeholder customer", "missing_customer_id"),
    ("null date", "unparseable_date"),
    ("null amount", "non_numeric_amount"),
    ("NaN amount", "non_numeric_amount"),
    ("year 2099", "future_date"),
    ("year 1899", "date_before_1900"),
    ("exported twice", "duplicate_order_id"),
)
_WEIGHTS = np.array([1, 1, 1, 1, 0.5, 0.5, 0.5, 4.5])
_PLACEHOLDERS = ("NULL", "散客", "N/A", "", "-")

BAD_SHARE = 0.002
"""Bad rows per clean row: 0.2 %, about 20,000 in the 10M-row file."""


def _faulty(block: pa.Table, rng: np.random.Generator, share: float) -> pa.Table:
    """``block`` with ``share`` bad rows inserted after random rows of it."""
    n = block.num_rows
    k = max(1, round(share * n))
    kind = rng.choice(len(FAULTS), size=k, p=_WEIGHTS / _WEIGHTS.sum())
    template = rng.integers(0, n, k)
    # a bad row comes after its template (a repeated export always does)
    after = template + (rng.random(k) * (n - template)).astype(np.int64)
    bad = block.take(pa.array(template))
    columns = {name: bad[name] for name in bad.column_names}
    customer = columns["customer_id"].to_pylist()
    stamp = columns["timestamp"].to_pylist()
    amount = columns["amount"].to_pylist()
    for i, f in enumerate(kind.tolist()):
        if f == 0:
            customer[i] = None
        elif f == 1:
            customer[i] = _PLACEHOLDERS[i % len(_PLACEHOLDERS)]
        elif f == 2:
            stamp[i] = None
        elif f == 3:
            amount[i] = None
        elif f == 4:
            amount[i] = float("nan")
        elif f == 5:
            stamp[i] = stamp[i].replace(year=2099, day=min(stamp[i].day, 28))
        elif f == 6:
            stamp[i] = stamp[i].replace(year=1899, day=min(stamp[i].day, 28))
    columns["customer_id"] = pa.array(customer, pa.string())
    columns["timestamp"] = pa.array(stamp, block.schema.field("timestamp").type)
    columns["amount"] = pa.array(amount, pa.float64())
    bad = pa.table(columns, schema=block.schema)
    keys = np.concatenate((np.arange(n, dtype=np.float64), after + 0.5))
    order = np.argsort(keys, kind="stable")
    return pa.concat_tables([block, bad]).take(pa.array(order))


def _total_row(schema: pa.Schema, total: float) -> pa.Table:
    """The line an export adds below the data."""
    values: dict[str, list[object]] = {name: [None] for name in schema.names}
    values["customer_id"] = ["Total"]
    values["amount"] = [round(total, 2)]
    return pa.table(values, schema=schema)


def write_with_bad_rows(
    source: str | Path, out: str | Path, *, share: float = BAD_SHARE, seed: int = 0
) -> dict[str, int]:
    """Copy ``source`` to ``out`` with bad rows inserted; return the rows by fault.

    Memory stays at one row group. The file appears only once complete.
    """
    source, out = Path(source), Path(out)
    tmp = out.with_name(out.name + ".tmp")
    reader = pq.ParquetFile(source)
    counts = {"rows": 0, "clean": 0, "bad": 0}
    total = 0.0
    low = ["product", "category", "channel", "store"]
    with pq.ParquetWriter(tmp, reader.schema_arrow, use_dictionary=low) as writer:
        for group in range(reader.num_row_groups):
            block = reader.read_row_group(group)
            total += float(pc.sum(block["amount"]).as_py() or 0.0)
            rng = np.random.default_rng([seed, group, 8])
            faulty = _faulty(block, rng, share)
            if group == reader.num_row_groups - 1:
                faulty = pa.concat_tables([faulty, _total_row(block.schema, total)])
            writer.write_table(faulty)
            counts["clean"] += block.num_rows
            counts["rows"] += faulty.num_rows
    counts["bad"] = counts["rows"] - counts["clean"]
    tmp.replace(out)
    return counts


if __name__ == "__main__":  # pragma: no cover - a manual check
    import sys

    started = dt.datetime.now()
    print(write_with_bad_rows(sys.argv[1], sys.argv[2]), dt.datetime.now() - started)
