"""Issue 23: the built-in 2021–2025 plan is frozen. Every return signed under it names this content
hash; an edit to the shipped indicator list or targets (a natural-looking change in
core/indicators.py or resources/) would make every archived return invalid and every town's database
refuse its quarters as edited outside the program. A new indicator comes as a signed plan package
(docs/plans.md), never as an edit of the shipped plan."""

from core.plan_package import shipped_package

SHIPPED_CONTENT_HASH = "52e76e624f28e8f4fc52c3cb97b143c01f5ded5f2aea1ebc0ff20ffcc75aeca0"


def test_the_built_in_plan_is_the_one_every_archived_return_names():
    package = shipped_package()
    assert package.content_hash == SHIPPED_CONTENT_HASH, (
        "the built-in 2021–2025 plan changed: archived returns name the old content hash and would all be "
        "refused. Put a new indicator in a signed plan package (docs/plans.md) instead of editing this one."
    )
    assert package.id == f"2021-2025-{SHIPPED_CONTENT_HASH[:8]}"
