"""Writing a benchmark's figures into ``bench/RESULTS.md``, between its own markers."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_block(report: str, *, name: str, title: str, path: Path = RESULTS) -> None:
    """Replace the block between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` with
    ``report``; the first time, append it under the heading ``title``. Every other
    section stays as it is."""
    begin_mark, end_mark = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin_mark}\n{report}{end_mark}\n"
    if not path.exists():
        path.write_text(f"# timeshelf benchmarks\n\n{title}\n\n{block}", encoding="utf-8")
        return
    text = path.read_text(encoding="utf-8")
    begin, end = text.find(begin_mark), text.find(end_mark)
    if begin == -1 or end == -1:
        text = text.rstrip("\n") + f"\n\n{title}\n\n{block}"
    else:
        text = text[:begin] + block + text[end + len(end_mark):].removeprefix("\n")
    path.write_text(text, encoding="utf-8")
