"""Logging of the sidecar: one line per event on stderr, with secrets redacted.

Tokens are never logged on purpose; the filter is the second line of defence, so a
token that reaches a message by accident (an exception text, a library's debug line)
is replaced before it is written.
"""

from __future__ import annotations

import logging
import re
import sys

_TOKEN = re.compile(r"tsh_[A-Za-z0-9_\-.]{8,}")
_BASIC = re.compile(r"(?i)(authorization:\s*(?:basic|bearer|token)\s+)\S+")


def redact(text: str) -> str:
    """``text`` with anything shaped like a timeshelf token or credentials replaced."""
    return _BASIC.sub(r"\1[redacted]", _TOKEN.sub("tsh_[redacted]", text))


class RedactSecrets(logging.Filter):
    """Rewrites each record's message with ``redact``."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """Send timeshelf's and waitress's logs to stderr through the redacting filter."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
