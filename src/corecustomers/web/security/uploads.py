"""Is an uploaded file what its name says? Checked on its bytes before anything reads it.

The reader is chosen by the file's suffix, so a file whose content is of another kind
(an executable, an HTML page or a ZIP renamed ``.csv``; a text file renamed ``.xlsx``) is
refused here with a message that says what it looks like, instead of reaching a parser
that was not written for it. Spreadsheets are ZIP archives: one that would unpack to more
than :data:`MAX_UNPACKED_RATIO` times its size and more than the upload limit is refused as
a possible ZIP bomb.

Uploads are kept under random names in ``.corecustomers/uploads`` (mode 0700), outside
the static files: no URL serves them back, and nothing runs them (an ``.xlsm``'s macros
are never executed: only cell values are read).
"""

from __future__ import annotations

import codecs
import zipfile
from pathlib import Path

__all__ = ["MAX_UNPACKED_RATIO", "content_problem"]

#: How much larger than the upload a spreadsheet may unpack to.
MAX_UNPACKED_RATIO = 100
#: How much of a text file is looked at.
HEAD = 64 * 1024

_ZIP = b"PK\x03\x04"
_OLE2 = bytes.fromhex("d0cf11e0a1b11ae1")
_PARQUET = b"PAR1"
#: Signatures of files that are never a table (what a disguised upload often is).
_BINARY = {
    b"MZ": "a Windows program",
    b"\x7fELF": "a Linux program",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    _ZIP: "a ZIP archive (an Excel file?)",
    _OLE2: "an old Office document (an .xls file?)",
    _PARQUET: "a Parquet file",
    b"\x1f\x8b": "a gzip archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"Rar!": "a RAR archive",
    b"#!": "a script",
}
_MARKUP = ("<!doctype", "<html", "<script", "<?xml", "<svg", "<?php", "<body", "<head")
TEXT_SUFFIXES = (".csv", ".txt", ".tsv")


def _looks_like(head: bytes) -> str | None:
    for magic, what in _BINARY.items():
        if head.startswith(magic):
            return what
    return None


def content_problem(path: Path, suffix: str, *, limit: int) -> str | None:
    """What is wrong with the bytes of ``path`` for a file ending in ``suffix``, or ``None``.

    ``limit`` is the upload size limit (it bounds how far a spreadsheet may unpack). The
    answer completes "<file name> is not a table: ...".
    """
    suffix = suffix.lower()
    with path.open("rb") as handle:
        head = handle.read(HEAD)
    if suffix in TEXT_SUFFIXES:
        return _text_problem(head)
    if suffix in {".xlsx", ".xlsm", ".ods"}:
        if not head.startswith(_ZIP):
            return _not_kind("an Excel or OpenDocument spreadsheet (a ZIP archive)", head)
        return _zip_problem(path, suffix, limit=limit)
    if suffix == ".xls":
        if not head.startswith(_OLE2):
            return _not_kind("an Excel 97-2003 workbook", head)
        return None
    if suffix == ".parquet":
        with path.open("rb") as handle:
            handle.seek(-4, 2)
            tail = handle.read(4)
        if not (head.startswith(_PARQUET) and tail == _PARQUET):
            return _not_kind("a Parquet file", head)
        return None
    return None


def _not_kind(expected: str, head: bytes) -> str:
    actual = _looks_like(head) or ("text" if _text_problem(head) is None else "something else")
    return f"its content is not {expected} but {actual}; save it again as the kind its name says"


def _text_problem(head: bytes) -> str | None:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = head.decode("utf-16", errors="replace")
        if "\x00" in text:
            return "its content is not text (it holds NUL characters); export it again as CSV"
        return None
    what = _looks_like(head)
    if what is not None:
        return (
            f"its content is {what}, not text; upload the file itself with its own ending, "
            "or export the table as CSV"
        )
    if b"\x00" in head:
        return "its content is not text (it holds NUL bytes); export the table as CSV"
    start = head.lstrip(codecs.BOM_UTF8).lstrip()[:16].decode("ascii", errors="replace").lower()
    if start.startswith(_MARKUP):
        return "its content is a web page or markup; export the table as CSV"
    return None


def _zip_problem(path: Path, suffix: str, *, limit: int) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            names = {entry.filename for entry in entries}
            unpacked = sum(entry.file_size for entry in entries)
            if suffix == ".ods":
                kind_ok = "mimetype" in names and archive.read("mimetype").startswith(
                    b"application/vnd.oasis.opendocument.spreadsheet"
                )
            else:
                kind_ok = "[Content_Types].xml" in names and any(
                    name.startswith("xl/") for name in names
                )
    except (zipfile.BadZipFile, OSError, KeyError):
        return "it is a damaged archive, not a spreadsheet that can be read; save it again"
    if not kind_ok:
        what = "an OpenDocument spreadsheet" if suffix == ".ods" else "an Excel workbook"
        return f"it is a ZIP archive but not {what}; save the table again from the spreadsheet"
    size = path.stat().st_size
    if unpacked > MAX_UNPACKED_RATIO * max(size, 1) and unpacked > limit:
        return (
            f"it would unpack to {unpacked / 1_048_576:.0f} MB, far more than a spreadsheet of "
            "this size holds; save it again, or export the table as CSV"
        )
    return None
