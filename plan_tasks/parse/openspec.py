"""OpenSpec's ``tasks.md``: ``## 1. Title`` groups of ``- [ ] 1.1 Description`` tasks.

OpenSpec writes the seed's task lines under numbered headings instead of
``## Phase N:`` ones; everything else (dependencies, files, execution notes,
marks) is read exactly as in the seed dialect, by the seed's parser with this
phase heading. A group runs after the group before it, as phases do.
"""

from __future__ import annotations

import re

from plan_tasks.errors import Problem
from plan_tasks.model import Plan
from plan_tasks.parse.detect import count_matches, fit_from_counts
from plan_tasks.parse.seed import DETECT_PHASE, DETECT_TASK, SeedParser
from plan_tasks.parse.source import Fit, Source

NAME = "openspec"

GROUP_HEADING = re.compile(r"^(?P<label>\d+)\.\s+(?P<title>.+)$")
DETECT_GROUP = re.compile(r"^#{1,6}\s+\d+\.\s+\S")
FORMAT_HINT = "OpenSpec tasks read as `- [ ] 1.1 Description` under `## 1. Title` headings"


def detect(source: Source) -> Fit | None:
    if count_matches(source, DETECT_PHASE, "heading"):
        return None  # `## Phase N:` headings: the seed format, whose sub-headings may be numbered
    groups = count_matches(source, DETECT_GROUP, "heading")
    tasks = count_matches(source, DETECT_TASK)
    described = f"{tasks} `- [ ] 1.1` task item(s) under {groups} `## 1. Title` heading(s)"
    return fit_from_counts(tasks, described, groups > 0, None, 0.85)


def parse(source: Source) -> tuple[Plan, list[Problem]]:
    return SeedParser(source, GROUP_HEADING, NAME, FORMAT_HINT).parse()
