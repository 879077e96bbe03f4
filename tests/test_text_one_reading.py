"""Issue 22 point 4: text that reads one way. A bidirectional control, a zero-width or another invisible
format character typed into the profile, a 说明 or a reason is refused with a Chinese sentence naming
it by its U+ code, by the command line and by the window alike (one rule: core.text)."""

import pytest

from cli import main
from core.text import hidden_character_problem, payload_text_problem
from tests.helpers import SIGN_OFF_FLAGS

HIDDEN = ["\u202e", "\u202a", "\u2066", "\u2069", "\u200b", "\u200d", "\u200f", "\u2060", "\ufeff", "\u00ad", "\u061c"]


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def town_db(tmp_path, capsys):
    db = tmp_path / "town.sqlite3"
    assert run(capsys, "--db", db, "init", "--town", "莞城")[0] == 0
    assert run(capsys, "--db", db, "profile", *SIGN_OFF_FLAGS)[0] == 0
    return db


@pytest.mark.parametrize("char", HIDDEN)
def test_a_hidden_character_in_the_phone_is_refused_naming_its_code(town_db, capsys, char):
    code, out, err = run(capsys, "--db", town_db, "profile", "--phone", f"0769-{char}22831234")
    assert code == 2, out + err
    assert f"U+{ord(char):04X}" in err and "联系电话" in err, err
    code, out, _ = run(capsys, "--db", town_db, "profile")
    assert code == 0 and "联系电话：（未填）" in out  # nothing was saved


def test_every_profile_field_is_checked_and_a_plain_one_is_saved(town_db, capsys):
    for option in ("--unit-name", "--head", "--stats-head", "--preparer"):
        code, _, err = run(capsys, "--db", town_db, "profile", option, "张\u202e三")
        assert code == 2 and "U+202E" in err and "双向文字控制符" in err, err
    code, out, err = run(capsys, "--db", town_db, "profile", "--head", "张三", "--phone", "0769-22831234")
    assert code == 0 and "单位负责人：张三" in out, out + err


def test_a_hidden_character_in_a_explanation_is_refused_and_nothing_is_saved(town_db, capsys):
    figures = ["arbitration_carried=0", "arbitration_received=30", "arbitration_closed=28"]
    note = "arbitration_closure_rate=疑难案件较多\u200b，下季度加快审结"
    code, out, err = run(capsys, "--db", town_db, "enter", "--quarter", "2024Q3", *figures, "--explain", note)
    assert code == 2, out + err
    assert "U+200B" in err and "说明" in err, err
    code, out, _ = run(capsys, "--db", town_db, "history", "--quarter", "2024Q3")
    assert "28" not in out  # the figures typed with it were not saved either


def test_the_window_save_is_refused_by_the_same_rule(store):
    from actions.figures import SaveRefused, save_figures
    from core.quarters import Quarter

    with pytest.raises(SaveRefused) as refused:
        save_figures(store, Quarter(2024, 3), {"arbitration_due": 30}, {"arbitration_closure_rate": "原因\u202e说明很长"})
    assert any("U+202E" in f.message for f in refused.value.findings)


def test_the_window_profile_is_refused_by_the_same_rule(store):
    from actions.database import update_profile
    from core.errors import DomainError

    before = store.profile().preparer
    with pytest.raises(DomainError, match="U\\+2066"):
        update_profile(store, {"preparer": "王\u2066五"})
    assert store.profile().preparer == before


def test_a_reopen_reason_with_a_hidden_character_is_refused():
    from core.errors import DomainError
    from core.submission import checked_reopen_reason

    with pytest.raises(DomainError, match="U\\+FEFF"):
        checked_reopen_reason("\ufeff数据填错需更正")
    assert checked_reopen_reason(" 数据填错需更正 ") == "数据填错需更正"


def test_ordinary_chinese_text_full_width_punctuation_and_line_breaks_pass():
    for text in ("东莞市人力资源和社会保障局莞城分局", "0769-2283 1234（转 8）", "第一行\n第二行", "１２３，。《》"):
        assert hidden_character_problem(text, "说明") is None


def test_a_plan_naming_a_hidden_character_is_refused():
    from dataclasses import replace

    from core.plan_package import package_problems, sample_package

    package = sample_package()
    doctored = replace(package, indicators=(replace(package.indicators[0], unit="\u202e人"), *package.indicators[1:]))
    problems = package_problems(doctored)
    assert any("U+202E" in p and "单位" in p for p in problems), problems


def test_the_payload_check_finds_a_hidden_character_anywhere_in_a_decoded_payload():
    payload = {"town": "莞城", "profile": {"phone": "0769-2283\u202e4321"}, "explanations": [["a", "ok"]]}
    problem = payload_text_problem(payload)
    assert problem is not None and "U+202E" in problem
    assert payload_text_problem({"key\u200b": 1}) is not None
    assert payload_text_problem({"town": "莞城", "figures": {"a": 1}, "notes": ["正常说明"]}) is None


def test_the_setup_dialog_refuses_a_hidden_character_before_it_binds(qtbot, dialogs):
    from actions.database import blank_profile
    from gui.setup_dialog import SetupDialog

    dialog = SetupDialog(None, blank_profile())
    qtbot.addWidget(dialog)
    dialog.town_box.setCurrentText("莞城")
    dialog.fields["phone"].setText("0769\u202e1234")
    dialogs.expect("U+202E")
    dialog.accept()
    assert dialog.result() == 0 and not dialog.isVisible()
    assert "联系电话" in dialogs.texts()[-1]
