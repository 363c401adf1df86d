"""Policy: the blocklist rules applied. Owns checking a rule when it is made and the
decision on a file (``rules``, pure), the license a file's core metadata declares
(``licenses``, pure), and applying the rules in force to what a repository lists and
what the site withholds (``listing``). It may import the catalog, the advisories and the
storage (to read stored metadata); the index, the snapshots, the installation and the
CLI import it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from generator.faces import lazy_face

if TYPE_CHECKING:
    from generator.policy.listing import (
        Policy,
        Verdict,
        blocked_files,
        learn_licenses,
        listed_projects,
    )
    from generator.policy.rules import Decision, FileFacts, InvalidRule, check_rule, decide

__all__ = [
    "Decision",
    "FileFacts",
    "InvalidRule",
    "Policy",
    "Verdict",
    "blocked_files",
    "check_rule",
    "decide",
    "learn_licenses",
    "listed_projects",
]

__getattr__ = lazy_face(__name__, __file__)
