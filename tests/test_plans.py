import csv
from fractions import Fraction

import openpyxl
import pytest

from core.errors import PlanError
from core.plans import CITY, TOWNS, load_shipped_plan, parse_rate_target
from core.quarters import Quarter
from core.resources import resource_path
from reports.safe_zip import UnsafeFile
from reports.tables import read_plan_file

SHIPPED = resource_path("plans", "targets_2021_2025.csv")


def shipped_rows():
    with SHIPPED.open(encoding="utf-8") as f:
        return list(csv.reader(f))


def write_csv(path, rows, encoding="utf-8"):
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_shipped_plan_matches_the_annex():
    plan = load_shipped_plan()
    assert plan.first == Quarter(2021, 1) and plan.last == Quarter(2025, 4)
    assert len(plan.quarters) == 20
    assert [t.town for t in plan.towns] == list(TOWNS)
    assert plan.city.counts == {"card_holders": 10_257_293, "yuecai_certified": 7_000, "nanyue_trained": 59_000}
    for code, total in plan.city.counts.items():
        assert sum(t.counts[code] for t in plan.towns) == total
    assert plan.targets_for("虎门").counts["yuecai_certified"] == 394
    assert plan.targets_for("道滘").counts["card_holders"] == 156_312
    assert plan.targets_for("莞城").rates["mediation_success_rate"] == Fraction(78, 100)
    assert plan.targets_for(CITY).rates["inspection_closure_rate"] == 1


def test_time_progress_at_first_and_last_quarter():
    plan = load_shipped_plan()
    assert plan.time_progress(Quarter(2021, 1)) == Fraction(1, 20)
    assert plan.time_progress(Quarter(2024, 3)) == Fraction(15, 20)
    assert plan.time_progress(Quarter(2025, 4)) == 1
    with pytest.raises(PlanError):
        plan.time_progress(Quarter(2026, 1))


def test_a_split_whose_towns_do_not_add_up_is_refused(tmp_path):
    rows = shipped_rows()
    rows[5][3] = str(int(rows[5][3]) + 1)  # 东城 粤菜师傅 one more than the annex
    path = write_csv(tmp_path / "targets_2026_2030.csv", rows)
    with pytest.raises(PlanError) as caught:
        read_plan_file(path)
    assert "粤菜师傅" in caught.value.message and "+1" in caught.value.message


def test_a_bad_cell_is_named_by_row_and_column(tmp_path):
    rows = shipped_rows()
    rows[8][2] = "八万五"
    path = write_csv(tmp_path / "targets_2026_2030.csv", rows)
    with pytest.raises(PlanError) as caught:
        read_plan_file(path)
    assert "第 9 行" in caught.value.message and "社保卡" in caught.value.message and "C 列" in caught.value.message


def test_a_gbk_csv_from_chinese_excel_is_read(tmp_path):
    rows = shipped_rows()
    rows[0] = [
        "序号",
        "镇街",
        "社保卡（张）",
        "粤菜师傅培训发证人数（人次）",
        "南粤家政培训人数（人次）",
        "劳动人事争议调解成功率（%）",
        "劳动人事争议仲裁结案率（%）",
        "劳动保障监察举报投诉案件结案率（%）",
    ]
    path = write_csv(tmp_path / "分解表2026-2030.csv", rows, encoding="gbk")
    plan = read_plan_file(path)
    assert plan.first == Quarter(2026, 1) and plan.last == Quarter(2030, 4)
    assert plan.targets_for("道滘").counts["nanyue_trained"] == 720


def annex_workbook(path, edit=None):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["各园区、镇（街）指标任务分解表"])
    ws.append(
        [
            "序号",
            "镇街",
            "社保卡（张）",
            "粤菜师傅培训发证人数（人次）",
            "南粤家政培训人数（人次）",
            "劳动人事争议调解成功率（%）",
            "劳动人事争议仲裁结案率（%）",
            "劳动保障监察举报投诉案件结案率（%）",
        ]
    )
    for row in shipped_rows()[1:]:
        seq = "合计" if row[1] == CITY else int(row[0])
        ws.append([seq, row[1], int(row[2]), int(row[3]), int(row[4]), ">78%", ">96%", 1.0])
    if edit:
        edit(ws)
    wb.save(path)
    return path


def test_xlsx_in_the_annex_layout_is_imported(tmp_path):
    plan = read_plan_file(annex_workbook(tmp_path / "split.xlsx"), name="十五五", first="2026Q1", last="2030Q4")
    assert plan.name == "十五五"
    assert plan.city.counts["card_holders"] == 10_257_293
    assert plan.targets_for("松山湖").rates["inspection_closure_rate"] == 1
    assert plan.targets_for("松山湖").rates["arbitration_closure_rate"] == Fraction(96, 100)


def test_xlsx_bad_cell_names_row_and_column(tmp_path):
    def edit(ws):
        ws["F10"] = "很高"

    path = annex_workbook(tmp_path / "split.xlsx", edit)
    with pytest.raises(PlanError) as caught:
        read_plan_file(path, first="2026Q1", last="2030Q4")
    assert (
        "第 10 行" in caught.value.message and "F 列" in caught.value.message and "调解成功率" in caught.value.message
    )


def test_missing_and_duplicate_towns_are_refused(tmp_path):
    rows = shipped_rows()
    rows[3][1] = "莞城"  # 石龙 replaced by a second 莞城
    with pytest.raises(PlanError, match="重复"):
        read_plan_file(write_csv(tmp_path / "a_2026_2030.csv", rows))
    rows = shipped_rows()
    del rows[10]
    with pytest.raises(PlanError, match="缺少这些镇街"):
        read_plan_file(write_csv(tmp_path / "b_2026_2030.csv", rows))


def test_period_must_be_given_when_the_name_does_not_say_it(tmp_path):
    path = write_csv(tmp_path / "split.csv", shipped_rows())
    with pytest.raises(PlanError, match="--first"):
        read_plan_file(path)


def test_not_a_workbook_is_refused(tmp_path):
    path = tmp_path / "split_2026_2030.xlsx"
    path.write_text("this is not a workbook")
    with pytest.raises(UnsafeFile) as caught:
        read_plan_file(path)
    assert "不是有效的 Excel" in str(caught.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("78", Fraction(78, 100)),
        (">78%", Fraction(78, 100)),
        ("≥96%", Fraction(96, 100)),
        ("100%", 1),
        (0.78, Fraction(78, 100)),
        (1, 1),
        (96, Fraction(96, 100)),
        ("78%以上", Fraction(78, 100)),
    ],
)
def test_rate_targets_in_every_spelling(value, expected):
    assert parse_rate_target(value) == expected


@pytest.mark.parametrize("value", ["abc", "150%", "0", ""])
def test_bad_rate_targets(value):
    with pytest.raises(PlanError):
        parse_rate_target(value)
