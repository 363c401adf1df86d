"""How severe an advisory is: the database's own rating, else the CVSS v3 base score of
its vector, as one ordered scale. Pure.

OSV gives severity two ways: ``database_specific.severity`` (GitHub's ``LOW``,
``MODERATE``, ``HIGH``, ``CRITICAL``) and ``severity[]`` entries whose ``CVSS_V3`` score
is a vector (``CVSS:3.1/AV:N/AC:L/…``). The base score of a vector is computed as the
CVSS v3.1 specification defines it (section 7.1, with its ``Roundup``), and rated
``LOW`` (0.1-3.9), ``MODERATE`` (4.0-6.9, CVSS's "Medium"), ``HIGH`` (7.0-8.9) or
``CRITICAL`` (9.0-10.0). A rule such as "at least HIGH" compares ``Severity.rank``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from generator.records import Advisory

RATINGS = ("NONE", "LOW", "MODERATE", "HIGH", "CRITICAL")
_ALIASES = {"MEDIUM": "MODERATE"}
_WEIGHTS = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
# Privileges required weigh more when the scope changes.
_PRIVILEGES = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}


@dataclass(frozen=True, slots=True, kw_only=True)
class Severity:
    """A rating of ``RATINGS`` and, when it comes from a CVSS vector, its base score."""

    rating: str
    score: float | None = None

    @property
    def rank(self) -> int:
        return RATINGS.index(self.rating)

    def __str__(self) -> str:
        return self.rating if self.score is None else f"{self.rating} {self.score:.1f}"


def normalize_rating(text: str) -> str | None:
    """``text`` as one of ``RATINGS`` (``medium`` is ``MODERATE``), or None."""
    rating = _ALIASES.get(text.strip().upper(), text.strip().upper())
    return rating if rating in RATINGS else None


def _roundup(value: float) -> float:
    whole = round(value * 100_000)
    if whole % 10_000 == 0:
        return whole / 100_000
    return (math.floor(whole / 10_000) + 1) / 10


def cvss3_score(vector: str) -> float | None:
    """The CVSS v3.0/v3.1 base score of ``vector``, or None when it is not a complete one."""
    parts = vector.strip().split("/")
    if not parts or parts[0] not in ("CVSS:3.0", "CVSS:3.1"):
        return None
    metrics = dict(p.split(":", 1) for p in parts[1:] if ":" in p)
    try:
        scope = metrics["S"]
        privileges = _PRIVILEGES[scope][metrics["PR"]]
        w = {key: table[metrics[key]] for key, table in _WEIGHTS.items()}
    except KeyError:
        return None
    iss = 1 - (1 - w["C"]) * (1 - w["I"]) * (1 - w["A"])
    # A changed scope weighs impact by the specification's second formula.
    changed = scope == "C"
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if changed else 6.42 * iss
    exploitability = 8.22 * w["AV"] * w["AC"] * privileges * w["UI"]
    if impact <= 0:
        return 0.0
    total = impact + exploitability if scope == "U" else 1.08 * (impact + exploitability)
    return _roundup(min(total, 10))


def rating_of(score: float) -> str:
    """The rating of a CVSS base score."""
    if score == 0:
        return "NONE"
    return "LOW" if score < 4 else "MODERATE" if score < 7 else "HIGH" if score < 9 else "CRITICAL"


def severity_of(advisory: Advisory) -> Severity | None:
    """The advisory's severity: its database's rating, else the highest CVSS v3 base
    score of its vectors; None when it gives neither."""
    rating = normalize_rating(advisory.level) if advisory.level else None
    if rating is not None:
        return Severity(rating=rating)
    scores = [s for kind, vector in advisory.severity if kind.startswith("CVSS_V3")
              if (s := cvss3_score(vector)) is not None]
    if not scores:
        return None
    return Severity(rating=rating_of(max(scores)), score=max(scores))
