"""The license a distribution declares, read from its core metadata, as rules see it. Pure.

Where the license comes from, in order (core metadata 2.4, PEP 639): the
``License-Expression`` field; else the ``License`` field (free text, older metadata);
else the ``License ::`` trove classifiers. A rule compares two things:

- ``--license SUBSTRING``: a case-insensitive substring of that declared text (the
  expression, the ``License`` text, or the classifiers joined by ``; ``);
- ``--license-types SPDX,...``: the SPDX identifiers the declaration names. An expression
  (``MIT OR Apache-2.0``) names each of its ids; a ``License`` text that is itself a valid
  SPDX expression names its ids; a classifier names the id ``CLASSIFIER_IDS`` gives it.
  A file that names none (no metadata held, no license declared, free text such as
  "BSD-like") is ``Unknown``.

SPDX ids are checked against the SPDX license list that ``packaging.licenses`` carries
(``packaging`` >= 24.2, already a dependency: the same list pip and build tools use for
PEP 639, so no second copy of it to keep current).
"""

from __future__ import annotations

import functools
import re
from email.parser import BytesHeaderParser
from email.policy import compat32

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression
from packaging.licenses._spdx import EXCEPTIONS, LICENSES

UNKNOWN = "Unknown"
# The few classifiers that name one SPDX license (the common ones; others are Unknown).
CLASSIFIER_IDS = {
    "License :: OSI Approved :: MIT License": "MIT",
    "License :: OSI Approved :: Apache Software License": "Apache-2.0",
    "License :: OSI Approved :: BSD License": "BSD-3-Clause",
    "License :: OSI Approved :: ISC License (ISCL)": "ISC",
    "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "License :: OSI Approved :: GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "License :: OSI Approved :: GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "License :: OSI Approved :: GNU Affero General Public License v3": "AGPL-3.0-only",
    "License :: OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "License :: OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
}
_WORD = re.compile(r"[A-Za-z0-9.+-]+")
_OPERATORS = {"AND", "OR", "WITH"}


def declared_license(metadata: bytes) -> str | None:
    """The license text a core metadata file declares (see the module docstring), None
    when it declares none."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(metadata)
    expression = (headers.get("License-Expression") or "").strip()
    if expression:
        return expression
    text = " ".join(str(headers.get("License") or "").split())
    if text and text.upper() not in ("UNKNOWN", "NONE"):
        return text
    classifiers = [str(c).strip() for c in headers.get_all("Classifier") or ()
                   if str(c).strip().startswith("License ::")]
    return "; ".join(classifiers) or None


@functools.lru_cache(maxsize=4096)
def license_ids(declared: str | None) -> frozenset[str]:
    """The SPDX ids (canonical spelling) a declared license names; empty: ``Unknown``."""
    if not declared:
        return frozenset()
    if declared.startswith("License ::"):
        return frozenset(
            CLASSIFIER_IDS[c] for c in declared.split("; ") if c in CLASSIFIER_IDS
        )
    try:
        expression = canonicalize_license_expression(declared)
    except InvalidLicenseExpression:
        return frozenset()
    return frozenset(
        w.removesuffix("+") for w in _WORD.findall(expression)
        if w not in _OPERATORS and w.lower() not in EXCEPTIONS
    )


def canonical_license_id(text: str) -> str | None:
    """``text`` as an SPDX license id in its canonical spelling (``mit`` is ``MIT``), or
    ``Unknown``; None when it is neither."""
    if text.lower() == UNKNOWN.lower():
        return UNKNOWN
    entry = LICENSES.get(text.lower())
    if entry is not None:
        return str(entry["id"])
    if text.lower().startswith("licenseref-"):
        return text
    return None
