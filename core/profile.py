"""The office profile printed on a return, and which of it a signed return cannot go without."""

from __future__ import annotations

from collections.abc import Mapping

PROFILE_LABELS = {
    "unit_name": "填报单位",
    "head": "单位负责人",
    "stats_head": "统计负责人",
    "preparer": "填表人",
    "phone": "联系电话",
}

# Printed in the return's sign-off: the city sends back a return without them.
SIGN_OFF_FIELDS = ("head", "stats_head", "preparer")


def missing_sign_off(profile: Mapping[str, str]) -> list[str]:
    """The sign-off names a signed return cannot go without, in words, in the order they are printed."""
    return [PROFILE_LABELS[name] for name in SIGN_OFF_FIELDS if not (profile.get(name) or "").strip()]
