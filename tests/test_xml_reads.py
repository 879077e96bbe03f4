"""What protects the XML the app reads from files a user gives it (issue 23 point 7): openpyxl parses a
workbook's parts with defusedxml, which is a dependency (pyproject.toml), so `plan build`'s workbook
reader and the annex table reader refuse a DTD's entities before expanding them. A return's XML is not
parsed at all (reports/verify.py reads its properties with defusedxml itself)."""

from __future__ import annotations

import pytest

from tests.test_reliability import LAUGHS, XXE, replace_part


@pytest.mark.parametrize("xml", [LAUGHS, XXE], ids=["entity-expansion", "external-entity"])
def test_a_plan_workbook_with_entities_is_refused_before_they_are_expanded(tmp_path, xml):
    from core.errors import PlanError
    from reports.plan_workbook import read_workbook, write_template

    path = tmp_path / "规划 工作簿.xlsx"
    write_template(path)
    replace_part(path, "xl/worksheets/sheet1.xml", xml)
    with pytest.raises(PlanError, match="无法读取这个 Excel 文件"):
        read_workbook(path)
