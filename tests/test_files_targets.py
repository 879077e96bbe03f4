"""Where a writer puts its files (reports/files.py), attacked from outside: a folder standing where a file
goes (even with --overwrite), and the hidden temp files a killed writer leaves behind."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from cli import main as cli_main
from core.quarters import Quarter
from reports.files import OutputExists, remove_stale_temp_files, write_all_or_none, write_atomically
from storage.store import Profile
from tests.helpers import on_pace_history

Q = Quarter(2024, 3)


@pytest.fixture
def ready(store):
    store.set_profile(Profile("东莞市莞城人力资源和社会保障分局", "张三", "王五", "李四", "0769-22001234"))
    for quarter, values in on_pace_history(last=Q).items():
        store.save_quarter(quarter, values)
    return store


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_export_overwrite_never_moves_a_folder_that_has_a_returns_name(ready, tmp_path, capsys):
    out = tmp_path / "上报 文件夹"
    keep = out / "2024Q3_莞城_季报.pdf"
    keep.mkdir(parents=True)
    (keep / "科长的笔记.txt").write_text("不要动", encoding="utf-8")
    before = listing(out)
    args = ["--db", str(ready.path), "export", "--quarter", Q.code, "--out", str(out), "--unsigned", "--overwrite"]
    assert cli_main(args) == 2
    err = capsys.readouterr().err
    assert "同名的文件夹：2024Q3_莞城_季报.pdf" in err and "未写入任何文件" in err, err
    assert listing(out) == before  # nothing moved to a hidden .previous, no new file, no temp
    assert (keep / "科长的笔记.txt").read_text(encoding="utf-8") == "不要动"


def test_a_folder_target_is_refused_before_anything_is_moved(tmp_path):
    existing = tmp_path / "汇总表.xlsx"
    existing.write_bytes(b"old workbook")
    folder = tmp_path / "汇总表.pdf"
    folder.mkdir()
    jobs = [(existing, lambda temp: temp.write_bytes(b"new")), (folder, lambda temp: temp.write_bytes(b"new"))]
    with pytest.raises(OutputExists, match="同名的文件夹"):
        write_all_or_none(jobs)
    assert existing.read_bytes() == b"old workbook" and folder.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["汇总表.pdf", "汇总表.xlsx"]
    with pytest.raises(OutputExists):
        write_atomically(folder, lambda temp: temp.write_bytes(b"new"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["汇总表.pdf", "汇总表.xlsx"]


def test_the_temps_a_killed_writer_left_are_removed_and_nothing_else(tmp_path):
    left = [
        ".2024Q3_莞城_季报.xlsx.k3j9x_2a.part",
        ".2024Q3_莞城_季报.pdf.ab12cd34.part.unsigned",  # killed while signing the PDF
        ".2024Q3_莞城_摘要.pdf.zz99yy88.part",
        ".回执_莞城_2026年第1季度_第1版.receipt.q1w2e3r4.part",  # killed during city receipts
        ".退回通知_石龙.notice.a1b2c3d4.part",
        ".催报清单.xlsx.m5n6b7v8.part",
    ]
    kept = [
        ".2024Q3_莞城_季报.xlsx.4242.previous",  # a replaced return waiting for recover_export
        ".用户自己的.part",
        ".notes.txt.abcdefgh.part",
        "2024Q3_莞城_季报.xlsx",
        "~$2024Q3_莞城_季报.xlsx",
    ]
    for name in left + kept:
        (tmp_path / name).write_bytes(b"x")
    other = tmp_path / "别的文件夹"
    other.mkdir()
    (other / left[0]).write_bytes(b"x")
    remove_stale_temp_files(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*kept, "别的文件夹"])
    assert (other / left[0]).exists()  # only the folder being written is looked at


def test_city_receipts_killed_midway_leaves_nothing_the_next_run_keeps(tmp_path):
    """A receipt's temp (what a kill -9 of city receipts leaves) is removed by the next write there."""
    stale = tmp_path / ".回执_莞城_2026年第1季度_第1版.receipt.q1w2e3r4.part"
    stale.write_bytes(b"{half")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    write_atomically(tmp_path / "回执_莞城_2026年第1季度_第2版.receipt", lambda temp: temp.write_bytes(b"{}"))
    assert [p.name for p in tmp_path.iterdir()] == ["回执_莞城_2026年第1季度_第2版.receipt"]
