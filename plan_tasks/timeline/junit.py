"""A run as JUnit XML, the test report format CI systems show: one test case per task.

The layout is the one of the Apache Ant JUnit schema (``JUnit.xsd``) that CI
readers follow: ``<testsuites>`` holding a ``<testsuite>`` per phase (with its
required ``id``, ``package``, ``name``, ``timestamp``, ``hostname``, counts,
``time``, ``<properties>``, ``<system-out>`` and ``<system-err>``), and in it a
``<testcase>`` per task the run handled: ``classname`` the phase, ``name``
"<id> <title>", ``time`` the seconds of all its attempts; a ``<failure>`` (its
``type`` the failure's category, its text the tail of the task's output, read
from its log), an ``<error>`` for a task stopped with the run, ``<skipped>``
for a task skipped because one it depends on failed.
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from plan_tasks.timeline.model import Row, Timeline, outcome_of, parse_time

TAIL_CHARACTERS = 4000  # of a failed task's output, in its <failure>
# XML 1.0 cannot hold these characters at all (a task's output may: colours, NULs).
_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def xml_text(text: str) -> str:
    """Text as XML 1.0 can carry it: terminal colour codes and forbidden characters removed."""
    return _NOT_XML.sub("", _ANSI.sub("", text))


def output_tail(root: Path, log: str | None, attempt: int) -> str:
    """The end of an attempt's output, from its task's log (``logs/<id>.log``): what follows
    the attempt's heading line, without the closing line."""
    if not log:
        return ""
    try:
        text = (root / log).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    headings = [match.end() for match in re.finditer(rf"^===== \S+ task \S+ attempt {attempt}\n", text, re.MULTILINE)]
    part = text[headings[-1]:] if headings else text
    part = re.sub(r"^----- \S+ task \S+ attempt \d+: .*\n?\Z", "", part, flags=re.MULTILINE)
    return part[-TAIL_CHARACTERS:]


def render_junit(timeline: Timeline, root: Path) -> str:
    """The JUnit XML document of the run (``root``: the project root, where the logs' paths start)."""
    timestamp = parse_time(timeline.started_at)
    stamp = timestamp.strftime("%Y-%m-%dT%H:%M:%S") if timestamp else "1970-01-01T00:00:00"
    hostname = socket.gethostname() or "localhost"
    suites = ElementTree.Element("testsuites", name=xml_text(timeline.plan_title))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for index, (phase, rows) in enumerate(timeline.phases):
        suite = ElementTree.SubElement(suites, "testsuite", id=str(index), package=xml_text(timeline.plan_ref),
                                       name=xml_text(phase), timestamp=stamp, hostname=hostname)
        properties = ElementTree.SubElement(suite, "properties")
        for name, value in (("plan", timeline.plan_ref), ("run", timeline.run_id)):
            ElementTree.SubElement(properties, "property", name=name, value=xml_text(value))
        counts = {"tests": len(rows), "failures": 0, "errors": 0, "skipped": 0}
        for row in rows:
            kind = _testcase(suite, phase, row, root)
            if kind:
                counts[kind] += 1
        ElementTree.SubElement(suite, "system-out").text = ""
        ElementTree.SubElement(suite, "system-err").text = ""
        suite.set("time", f"{sum(row.seconds for row in rows):.3f}")
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        suites.set(key, str(value))
    suites.set("time", f"{timeline.duration:.3f}")
    ElementTree.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(suites, encoding="unicode") + "\n"


def _testcase(suite: ElementTree.Element, phase: str, row: Row, root: Path) -> str | None:
    """Add the row's test case; which count it adds to (failures, errors, skipped), if any."""
    case = ElementTree.SubElement(suite, "testcase", classname=xml_text(phase),
                                  name=xml_text(f"{row.task_id} {row.title}"), time=f"{row.seconds:.3f}")
    outcome = outcome_of(row)
    if outcome == "skipped":
        ElementTree.SubElement(case, "skipped", message=xml_text(row.skip_reason or "skipped"))
        return "skipped"
    last = row.bars[-1]
    if outcome == "failed":
        failure = ElementTree.SubElement(case, "failure", message=xml_text(last.error or "failed"),
                                         type=last.category or "permanent")
        failure.text = xml_text(output_tail(root, last.log, last.attempt))
        return "failures"
    if outcome == "interrupted":
        ElementTree.SubElement(case, "error", message="stopped with the run; runs again on the next run",
                               type="interrupted")
        return "errors"
    return None
