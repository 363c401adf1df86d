"""The withheld files' markers (``generator.output.withheld``): written, kept, removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.output.withheld import Withheld, sync_withheld, withheld_reason

A, B = "a" * 64, "b" * 64


def test_markers_follow_the_entries(tmp_path: Path) -> None:
    assert sync_withheld(tmp_path, []) == 0
    assert not (tmp_path / ".withheld").exists()  # a site with nothing withheld is untouched
    assert sync_withheld(tmp_path, [Withheld(sha256=A, reason="one"),
                                    Withheld(sha256=B, reason="two\nlines")]) == 2
    assert (tmp_path / ".withheld" / "files" / A).read_bytes() == b"403 Forbidden: one\n"
    assert withheld_reason(tmp_path, B) == "two lines"
    # The same set again: nothing is read but the manifest, nothing written.
    assert sync_withheld(tmp_path, [Withheld(sha256=B, reason="two\nlines"),
                                    Withheld(sha256=A, reason="one")]) == 0
    assert sync_withheld(tmp_path, [Withheld(sha256=A, reason="changed")]) == 2
    assert withheld_reason(tmp_path, A) == "changed"
    assert withheld_reason(tmp_path, B) is None
    assert sync_withheld(tmp_path, []) == 1
    assert list((tmp_path / ".withheld" / "files").iterdir()) == []


@pytest.mark.parametrize("sha256", ["A" * 64, "a" * 63, "../" + "a" * 61, ""],
                         ids=["uppercase", "short", "path", "empty"])
def test_a_bad_hash_is_refused_and_never_withheld(tmp_path: Path, sha256: str) -> None:
    with pytest.raises(ValueError, match="sha256 must be 64 lowercase hex digits"):
        Withheld(sha256=sha256, reason="x")
    assert withheld_reason(tmp_path, sha256) is None
