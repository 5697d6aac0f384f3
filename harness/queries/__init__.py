"""Query counts: what the code under test sends (`recorder`), checks and the N+1 report
(`report`), and their pytest hooks (`plugin`)."""

from __future__ import annotations

from harness.queries.recorder import QueryRecorder, Statement
from harness.queries.report import Queries, QueryCountError

__all__ = ["Queries", "QueryCountError", "QueryRecorder", "Statement"]
