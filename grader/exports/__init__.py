"""Grades handed back in each LMS's own format.

The exports read results documents only (`OUT/*/results.json`, `OUT/summary.json`), never the
grader's internals, so they work on any output folder the grader ever wrote.
"""


class ExportError(Exception):
    """Input an export cannot use; the message, one line, says what to fix."""
