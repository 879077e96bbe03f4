"""A copy of the database made beside it (in the explorer: "…- 副本.sqlite3") is a database of its own:
found from outside (issue 27's attack), the copy kept the original's id, shared its backups, and each
read the other's later backups as its own history cut short — the original then refused every signed
export until the city was called."""

import shutil
from pathlib import Path

from cli import main
from storage.backup import backups_of, read_identity
from storage.store import Store
from tests.helpers import FULL_QUARTER, SIGN_OFF_FLAGS

Q = "2024Q3"


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def town(folder: Path, capsys) -> Path:
    db = folder / "gc.sqlite3"
    assert run(capsys, "--db", db, "init", "--town", "莞城")[0] == 0
    assert run(capsys, "--db", db, "profile", *SIGN_OFF_FLAGS)[0] == 0
    return db


def enter(db: Path, capsys, value: int) -> str:
    code, _, err = run(capsys, "--db", db, "enter", "--quarter", Q, f"yuecai_certified={value}")
    assert code in (0, 1), err
    return err


def test_a_copy_beside_the_original_gets_its_own_id_and_both_keep_a_whole_history(tmp_path, capsys):
    db = town(tmp_path, capsys)
    enter(db, capsys, FULL_QUARTER["yuecai_certified"])
    copy = tmp_path / "gc - 副本.sqlite3"
    shutil.copyfile(db, copy)  # the file alone, as the explorer copies it

    said = enter(copy, capsys, 1)  # the copy's first writing command
    assert "gc.sqlite3 的副本" in said and "自己的编号" in said
    assert read_identity(copy).db_id != read_identity(db).db_id
    for _ in range(3):  # the copy moves on: rows and backups the original never had
        enter(copy, capsys, 2)
    with Store(copy) as store:
        store.backup_before_submission()  # what a signed export from the copy makes first

    for database in (db, copy):
        code, out, err = run(capsys, "--db", database, "audit", "verify")
        assert code == 0, out + err
    assert set(backups_of(db)).isdisjoint(backups_of(copy))
    assert "副本" not in enter(db, capsys, 3)  # the original is not told it is a copy


def test_a_copy_with_its_note_copied_along_is_still_the_copy(tmp_path, capsys):
    db = town(tmp_path, capsys)
    copy = tmp_path / "gc - 副本.sqlite3"
    shutil.copyfile(db, copy)
    shutil.copyfile(db.with_name(db.name + ".identity"), copy.with_name(copy.name + ".identity"))
    assert "的副本" in enter(copy, capsys, 1)
    assert read_identity(copy).db_id != read_identity(db).db_id


def test_a_database_moved_to_another_folder_keeps_its_id(tmp_path, capsys):
    db = town(tmp_path, capsys)
    before = read_identity(db).db_id
    moved = tmp_path / "新 文件夹" / "gc.sqlite3"
    moved.parent.mkdir()
    shutil.move(db, moved)
    shutil.move(db.with_name(db.name + ".identity"), moved.with_name(moved.name + ".identity"))
    assert "副本" not in enter(moved, capsys, 1)
    assert read_identity(moved).db_id == before


def test_reading_a_copy_changes_nothing(tmp_path, capsys):
    db = town(tmp_path, capsys)
    copy = tmp_path / "gc - 副本.sqlite3"
    shutil.copyfile(db, copy)
    assert run(capsys, "--db", copy, "status")[0] == 0
    assert read_identity(copy).db_id == read_identity(db).db_id  # only a command that writes gives the id
