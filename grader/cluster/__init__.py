"""Grading on a Dask cluster (`grader grade --cluster`); Dask itself is imported only by
`grader.cluster.executor`, so naming a cluster, or failing to, costs a local run nothing."""

from __future__ import annotations

import os

ADDRESS_VARIABLE = "DASK_SCHEDULER_ADDRESS"


class ClusterUnavailable(Exception):
    """The cluster named could not be reached or started; the message says which and why."""


def cluster_address(given: str | None) -> str | None:
    """The cluster to use: `--cluster` if given, else $DASK_SCHEDULER_ADDRESS, else none."""
    return given or os.environ.get(ADDRESS_VARIABLE) or None
