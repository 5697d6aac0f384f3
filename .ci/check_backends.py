"""Fail unless every named backend really ran: passing tests, and none skipped for want of it.

Usage: python .ci/check_backends.py JUNIT_XML BACKEND [BACKEND ...]
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter


def main(path: str, backends: list[str]) -> int:
    passed: Counter[str] = Counter()
    skipped: dict[str, list[str]] = {name: [] for name in backends}
    for case in ET.parse(path).getroot().iter("testcase"):
        match = re.search(
            r"\[(?:[^\]]*-)?(" + "|".join(backends) + r")(?:-[^\]]*)?\]", case.get("name", "")
        )
        if not match:
            continue
        backend = match.group(1)
        skip = case.find("skipped")
        if skip is not None:
            message = skip.get("message", "")
            # A test the harness_backends marker restricts is meant to skip elsewhere.
            if "harness_backends(" not in message:
                skipped[backend].append(f"{case.get('name')}: {message}")
        elif case.find("failure") is None and case.find("error") is None:
            passed[backend] += 1
    problems = []
    for name in backends:
        if passed[name] == 0:
            problems.append(f"{name}: no test passed on this backend")
        problems.extend(f"{name}: skipped {line}" for line in skipped[name])
    for name in backends:
        print(f"check_backends: {name}: {passed[name]} passed")
    if problems:
        print("check_backends: FAILED\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
