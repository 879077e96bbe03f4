"""Every command imports only what it uses: checked by which modules a fresh process has loaded
(never by timing). `--version` and `--help` load no library at all; `verify`, `consolidate`,
`city init` and `city issue` load no database layer unless they open a database."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.demo import town_figures
from core.quarters import Quarter
from reports.identity import open_identity
from tests.test_city import PASS, PLAN, single_town_identity, write_returns

# Every test here starts fresh interpreters that import the whole library stack.
pytestmark = pytest.mark.slow

LIBRARIES = ("sqlalchemy", "alembic", "openpyxl", "reportlab", "pyhanko", "cryptography", "PySide6", "pypdfium2")
DATABASE = ("sqlalchemy", "alembic", "storage.store", "storage.models")

PROBE = """
import json, sys
from cli import main
try:
    code = main({argv!r})
except SystemExit as exc:
    code = exc.code
print(json.dumps({{"code": code, "modules": sorted(sys.modules)}}), file=sys.stderr)
"""


def loaded(argv: list[str], tmp_path: Path, db: Path | None = None) -> tuple[int, set[str]]:
    """Run `main.py ARGV` in a fresh interpreter; its exit code and the modules it imported."""
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "QT_QPA_PLATFORM": "offscreen"}
    env["TOWN_RETURNS_DB"] = str(db or tmp_path / "no-database-here.sqlite3")
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], set(report["modules"])


def packages(modules: set[str], names: tuple[str, ...]) -> set[str]:
    return {m for m in modules if any(m == n or m.startswith(n + ".") for n in names)}


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_version_and_help_load_no_library(flag, tmp_path):
    code, modules = loaded([flag], tmp_path)
    assert code == 0
    assert packages(modules, LIBRARIES) == set()
    assert packages(modules, ("storage.store", "storage.lock", "core.plans", "core.progress", "gui")) == set()
    assert "multiprocessing" not in modules


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("imports")
    identity = single_town_identity(folder, "石龙")
    figures = town_figures(PLAN, "石龙", PLAN.quarters, seed=3)
    files = write_returns(folder / "inbox", identity, "石龙", figures, [Quarter(2024, 1)])
    return folder, files


def test_verify_and_consolidate_do_not_load_the_database_layer(signed, tmp_path):
    folder, files = signed
    trust = str(folder / "pki" / "city_root.pem")
    code, modules = loaded(["verify", "--trust", trust, *map(str, files)], tmp_path)
    assert code == 0
    assert packages(modules, DATABASE) == set()
    code, modules = loaded(["consolidate", "--trust", trust, "--quarter", "2024Q1", str(folder / "inbox")], tmp_path)
    assert code == 0
    assert "reports.verify" in modules  # it did verify
    assert packages(modules, DATABASE) == set()


def test_city_init_and_issue_do_not_load_the_database_layer(tmp_path):
    (tmp_path / "root.pass").write_text("root-passphrase\n", encoding="utf-8")
    (tmp_path / "town.pass").write_text("town-passphrase\n", encoding="utf-8")
    code, modules = loaded(["city", "init", "--out", "city", "--passphrase-file", "root.pass"], tmp_path)
    assert code == 0
    assert packages(modules, DATABASE) == set()
    issue = ["city", "issue", "--root", "city/city_root.p12", "--root-passphrase-file", "root.pass"]
    issue += ["--town", "莞城", "--out", "莞城.p12", "--passphrase-file", "town.pass"]
    code, modules = loaded(issue, tmp_path)
    assert code == 0
    assert packages(modules, DATABASE) == set()
    assert open_identity((tmp_path / "莞城.p12").read_bytes(), PASS) is not None


def test_a_command_that_opens_the_database_does_load_it(tmp_path):
    code, modules = loaded(["init", "--town", "莞城"], tmp_path, db=tmp_path / "town.sqlite3")
    assert code == 0
    assert "sqlalchemy" in modules
