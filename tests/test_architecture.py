"""Import rules of the project, checked on the source text (AST); no project module is imported.

The rules are written out for people in docs/architecture.md. Each failure names file, line and rule.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIPPED_DIRS = {"build", "dist", "__pycache__", "node_modules"}

QT = ("PySide6", "shiboken6")
SQL = ("sqlalchemy", "alembic")


@dataclass(frozen=True)
class Import:
    path: Path  # relative to ROOT
    line: int
    module: str  # absolute dotted name of what is imported ("storage.store", "PySide6.QtCore")
    names: tuple[str, ...]  # for `from m import a, b`; empty for `import m`


@dataclass(frozen=True)
class SourceFile:
    path: Path  # relative to ROOT
    module: str
    tree: ast.Module


def _module_name(relative: Path) -> str:
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def project_files() -> tuple[SourceFile, ...]:
    files = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if any(part.startswith(".") or part in SKIPPED_DIRS or part.endswith(".egg-info") for part in relative.parts):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(relative))
        files.append(SourceFile(relative, _module_name(relative), tree))
    return tuple(files)


@cache
def project_modules() -> frozenset[str]:
    return frozenset(f.module for f in project_files())


def layer(source: SourceFile) -> str:
    return source.module.split(".")[0]


def _absolute(source: SourceFile, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = source.module.split(".")
    if source.path.name != "__init__.py":
        package.pop()
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(source: SourceFile) -> Iterator[Import]:
    """Every import of the file, also those inside functions (cli.py imports inside command bodies)."""
    for node in ast.walk(source.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(source.path, node.lineno, alias.name, ())
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(source, node)
            yield Import(source.path, node.lineno, module, tuple(alias.name for alias in node.names))


def _is_under(module: str, roots: tuple[str, ...] | frozenset[str]) -> bool:
    return any(module == root or module.startswith(root + ".") for root in roots)


def _imported_modules(item: Import) -> list[str]:
    """`from storage import store` imports the module storage.store, not just the package."""
    found = [item.module]
    found += [f"{item.module}.{name}" for name in item.names if f"{item.module}.{name}" in project_modules()]
    return found


def forbidden_imports(
    layers: set[str],
    forbidden: tuple[str, ...],
    rule: str,
    allowed: tuple[str, ...] = (),
    files: tuple[SourceFile, ...] | None = None,
) -> list[str]:
    problems = []
    for source in project_files() if files is None else files:
        if layer(source) not in layers:
            continue
        for item in imports(source):
            for module in _imported_modules(item):
                if _is_under(module, forbidden) and not _is_under(module, allowed):
                    problems.append(f"{item.path}:{item.line}: imports {module} — rule: {rule}")
    return problems


def report(problems: list[str]) -> str:
    return "\n".join(["", *sorted(set(problems))])


@dataclass(frozen=True)
class Rule:
    """One row of docs/architecture.md's table: code in `layers` never imports `forbidden` (but `allowed`)."""

    layers: frozenset[str]
    forbidden: tuple[str, ...]
    text: str
    allowed: tuple[str, ...] = ()


RULES = (
    Rule(
        frozenset({"core"}),
        (*QT, *SQL, "storage", "reports", "gui", "actions", "cli", "main"),
        "core imports neither Qt, SQL, storage, reports, gui, actions nor cli",
    ),
    Rule(
        frozenset({"storage"}),
        (*QT, "reports", "gui", "actions", "cli", "main"),
        "storage imports neither Qt, reports, gui, actions nor cli",
    ),
    # A return is written and read from plain data; the export's rules, which need the database, live in actions.
    Rule(
        frozenset({"reports"}),
        (*QT, *SQL, "storage", "gui", "actions", "cli", "main"),
        "reports imports neither Qt, SQL, storage (it takes no Store), gui, actions nor cli",
    ),
    Rule(frozenset({"actions"}), (*QT, "gui", "cli", "main"), "actions imports neither Qt, gui nor cli"),
    # The window reaches the database and the files through actions (actions.database names Store, Profile,
    # AuditRow and the database's errors for it; actions.city and actions.returns the report types), also
    # for type annotations.
    Rule(
        frozenset({"gui"}),
        (*SQL, "storage", "reports", "cli", "main"),
        "gui imports neither SQLAlchemy, storage nor reports (they come through actions), nor cli",
    ),
    Rule(
        frozenset({"cli"}),
        (*QT, *SQL, "storage", "reports", "gui"),
        "cli.py imports neither Qt, SQLAlchemy, storage, reports nor gui (but gui.app, to open the window)",
        allowed=("gui.app",),
    ),
    Rule(frozenset({"tools", "bench"}), ("tests",), "tools/ and bench/ never import tests/"),
)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.text)
def test_each_layer_imports_only_what_the_architecture_allows(rule):
    problems = forbidden_imports(set(rule.layers), rule.forbidden, rule.text, rule.allowed)
    assert not problems, report(problems)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.text)
def test_each_rule_sees_a_violation_planted_in_a_copy_of_the_tree(rule):
    """The checker checks itself: one import against the rule, planted in a file of the layer in a copy of
    the tree (the real files plus the planted one), is reported with the rule at its line."""
    planted_layer = sorted(rule.layers)[0]
    forbidden = next(m for m in rule.forbidden if m not in rule.allowed)
    module = planted_layer if planted_layer in ("cli", "main") else f"{planted_layer}.planted_violation"
    planted = _source(f"import json\nfrom {forbidden} import something\n", module)
    copy = tuple(f for f in project_files() if f.module != planted.module) + (planted,)
    problems = forbidden_imports(set(rule.layers), rule.forbidden, rule.text, rule.allowed, files=copy)
    assert [p for p in problems if p.startswith(f"{planted.path}:")] == [
        f"{planted.path}:2: imports {forbidden} — rule: {rule.text}"
    ]


def test_the_rules_are_the_table_of_docs_architecture():
    """Each layer the document's table names has a rule here, and each rule's layers are in the table."""
    table = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = [line for line in table.splitlines() if line.startswith("| `") and "may import" not in line]
    named = {cell.strip("`/ ").removesuffix(".py") for line in rows for cell in [line.split("|")[1].strip()]}
    checked = {layer_name for rule in RULES for layer_name in rule.layers}
    assert {"core", "storage", "reports", "actions", "gui", "cli"} <= named
    assert {"core", "storage", "reports", "actions", "gui", "cli"} <= checked


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_name_uses(source: SourceFile) -> Iterator[str]:
    rule = "no module uses a private name (_x) of another module"
    bound_modules: dict[str, str] = {}  # local name -> project module it is bound to
    for item in imports(source):
        if item.module not in project_modules():
            continue
        for name in item.names:
            if f"{item.module}.{name}" in project_modules():
                continue  # a submodule, not a name of the module
            if _private(name) and item.module != source.module:
                yield f"{item.path}:{item.line}: imports {item.module}.{name} — rule: {rule}"
    for node in ast.walk(source.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name not in project_modules():
                    continue
                if alias.asname:
                    bound_modules[alias.asname] = alias.name
                else:  # `import a.b` binds `a`
                    bound_modules[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(source, node)
            for alias in node.names:
                if f"{module}.{alias.name}" in project_modules():
                    bound_modules[alias.asname or alias.name] = f"{module}.{alias.name}"
    for node in ast.walk(source.tree):
        if not isinstance(node, ast.Attribute) or not _private(node.attr):
            continue
        dotted = _dotted(node.value)
        if dotted is None:
            continue
        head, _, rest = dotted.partition(".")
        if head not in bound_modules:
            continue
        module = bound_modules[head] + (f".{rest}" if rest else "")
        if module in project_modules() and module != source.module:
            yield f"{source.path}:{node.lineno}: uses {module}.{node.attr} — rule: {rule}"


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else None
    return None


LAYERS = ("core", "storage", "reports", "gui", "actions", "cli", "main", "tools", "bench", "tests")


@pytest.mark.parametrize("layer_name", LAYERS)
def test_no_module_uses_a_private_name_of_another(layer_name):
    problems = [
        problem for source in project_files() if layer(source) == layer_name for problem in private_name_uses(source)
    ]
    assert not problems, report(problems)


# Tests and the screenshot tool drive the windows as a clerk does (click, type, choose, trigger a menu)
# or through public methods; a window's private helpers are its own business.
DRIVERS_OF_WINDOWS = ("tests", "gui.screenshots")


def private_method_calls(source: SourceFile) -> Iterator[str]:
    rule = "tests and gui/screenshots.py call no _private method of another object (drive the widgets instead)"
    for node in ast.walk(source.tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _private(node.func.attr):
            if isinstance(node.func.value, ast.Name) and node.func.value.id in {"self", "cls"}:
                continue
            yield f"{source.path}:{node.lineno}: calls {ast.unparse(node.func)}() — rule: {rule}"


def test_tests_and_screenshots_call_no_private_method_of_a_window():
    problems = [
        problem
        for source in project_files()
        if _is_under(source.module, DRIVERS_OF_WINDOWS)
        for problem in private_method_calls(source)
    ]
    assert not problems, report(problems)


def test_the_private_method_rule_sees_a_call_on_a_window_but_not_on_self():
    text = "window._load_quarter(q)\nself._helper()\nwindow.select_quarter(q)\n"
    found = list(private_method_calls(_source(text, "tests.sample")))
    assert [problem.split(": ", 1)[1].split(" —")[0] for problem in found] == ["calls window._load_quarter()"]


def test_every_file_belongs_to_a_checked_layer():
    assert {layer(source) for source in project_files()} <= set(LAYERS)


SYS_PATH_EDITS = tuple(f"sys.path.{verb}(" for verb in ("insert", "append", "extend"))


def test_no_code_edits_sys_path():
    rule = "no sys.path edits in project code (run tools as modules, tests from the installed package)"
    problems = []
    for source in project_files():
        for node in ast.walk(source.tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"insert", "append", "extend"}
                and _dotted(node.func.value) == "sys.path"
            ):
                problems.append(f"{source.path}:{node.lineno}: edits sys.path — rule: {rule}")
            # Code handed to a child interpreter as text (`python -c`) is project code too.
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                if any(edit in node.value for edit in SYS_PATH_EDITS):
                    problems.append(f"{source.path}:{node.lineno}: code in a string edits sys.path — rule: {rule}")
    assert not problems, report(problems)


# The checker checks itself: each rule must see a violation written on purpose.
def _source(text: str, module: str = "gui.sample") -> SourceFile:
    return SourceFile(Path(module.replace(".", "/") + ".py"), module, ast.parse(text))


def test_the_private_name_rule_sees_both_spellings():
    text = "import gui.main_window as mw\nfrom reports.excel import _style\nmw._helper()\nx = mw.public\n"
    found = list(private_name_uses(_source(text, "tests.sample")))
    assert [problem.split(": ", 1)[1].split(" —")[0] for problem in found] == [
        "imports reports.excel._style",
        "uses gui.main_window._helper",
    ]


def test_relative_imports_resolve_to_their_package():
    source = _source("from .errors import DatabaseError\nfrom . import store\n", "storage.backup")
    assert [(i.module, i.names) for i in imports(source)] == [
        ("storage.errors", ("DatabaseError",)),
        ("storage", ("store",)),
    ]
