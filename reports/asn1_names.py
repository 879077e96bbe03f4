"""asn1crypto's names for the CMS attributes the app signs and reads, complete before any is used.

`asn1crypto.tsp` adds `signing_certificate_v2` to CMSAttributeType's names when it is imported; the
reverse table (name → OID) is built once, on first use. If anything used it before `tsp` was imported,
the name is missing from the table for the life of the process, and re-encoding a signature that carries
the attribute fails ("invalid literal for int() … 'signing_certificate_v2'"): a genuine PDF verified after
a workbook in one run was called 无效, and an export after a plan import failed until the app restarted.
"""

from __future__ import annotations

import asn1crypto.tsp  # noqa: F401 - registers signing_certificate_v2 and its value's type
from asn1crypto import cms


def complete_cms_names() -> None:
    reverse = cms.CMSAttributeType._reverse_map  # noqa: SLF001 - asn1crypto's own lazily built table
    if reverse is not None and "signing_certificate_v2" not in reverse:
        cms.CMSAttributeType._reverse_map = None  # noqa: SLF001 - rebuilt from the full names on next use


complete_cms_names()
