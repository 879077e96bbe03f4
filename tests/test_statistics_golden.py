"""Issue 26: returns signed before the case counts became flows with a carry-over (payload town-returns/4,
renderer town-returns-render/1) keep verifying byte for byte after the new shape and renderer arrived.

tests/data/golden_town_returns_4 was written by the release just before issue 26 (commit dc04c89's code:
the demo's on-pace figures of 莞城 up to 2024Q3, signed with a town certificate valid 2020–2049)."""

import json
import zipfile
from pathlib import Path

import pytest

from reports.identity import load_trust_roots
from reports.verify import Verifier

GOLDEN = Path(__file__).parent / "data" / "golden_town_returns_4"
FILES = ("2024Q3_莞城_季报.xlsx", "2024Q3_莞城_季报.pdf", "2024Q3_莞城_摘要.pdf")


@pytest.mark.parametrize("name", FILES)
def test_a_return_signed_in_the_previous_shape_still_verifies(name):
    verifier = Verifier(load_trust_roots(GOLDEN / "city_root.pem"))
    verdict = verifier.verify(GOLDEN / name)
    assert verdict.valid, verdict.reason
    assert verdict.payload is not None
    assert verdict.payload.body["format"] == "town-returns/4"
    assert verdict.payload.body["renderer"] == "town-returns-render/1"


def test_the_golden_workbook_is_the_previous_shape():
    """The files are what they claim: nine lines, no carry-over codes, the case counts as 应结."""
    with zipfile.ZipFile(GOLDEN / FILES[0]) as archive:
        custom = archive.read("docProps/custom.xml").decode("utf-8")
    assert "town-returns/4" in custom
    assert "arbitration_carried" not in custom and "arbitration_due" in custom
    assert json.dumps("town-returns-render/1")[1:-1] in custom
