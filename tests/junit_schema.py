"""What the JUnit schema requires of a report, as a check the tests run.

Written from the required elements and attributes of the Apache Ant JUnit XML
schema (``JUnit.xsd`` of the windyroad/JUnit-Schema project, Apache License
2.0), the de facto format CI systems read; the schema itself is not vendored
and nothing is downloaded. ``<testsuites>`` holds ``<testsuite>`` elements,
each with ``package``, ``id``, ``name``, ``timestamp`` (no time zone),
``hostname``, ``tests``, ``failures``, ``errors`` and ``time``, and in order:
``<properties>`` (its ``<property>`` with ``name`` and ``value``),
``<testcase>``s, ``<system-out>``, ``<system-err>``. A ``<testcase>`` has
``name``, ``classname`` and ``time``, and at most one of ``<skipped>``,
``<error>``, ``<failure>``; the last two carry a ``type``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

SUITE_ATTRIBUTES = ("package", "id", "name", "timestamp", "hostname", "tests", "failures", "errors", "time")
CASE_ATTRIBUTES = ("name", "classname", "time")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
INTEGER = re.compile(r"^-?\d+$")
DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")


def junit_problems(root: ElementTree.Element) -> list[str]:
    """Each way ``root`` falls short of the schema's required elements and attributes."""
    if root.tag != "testsuites":
        return [f"the root is <{root.tag}>, not <testsuites>"]
    problems: list[str] = []
    for suite in root:
        if suite.tag != "testsuite":
            problems.append(f"<{suite.tag}> in <testsuites>")
            continue
        problems += _suite_problems(suite)
    return problems


def _suite_problems(suite: ElementTree.Element) -> list[str]:
    problems = [f"testsuite: no `{name}`" for name in SUITE_ATTRIBUTES if not suite.get(name)]
    for name in ("id", "tests", "failures", "errors", "skipped"):
        if suite.get(name) is not None and not INTEGER.match(suite.get(name, "")):
            problems.append(f"testsuite: `{name}` is not a whole number: {suite.get(name)!r}")
    if suite.get("time") and not DECIMAL.match(suite.get("time", "")):
        problems.append(f"testsuite: `time` is not a decimal: {suite.get('time')!r}")
    if suite.get("timestamp") and not TIMESTAMP.match(suite.get("timestamp", "")):
        problems.append(f"testsuite: `timestamp` is not YYYY-MM-DDTHH:MM:SS: {suite.get('timestamp')!r}")
    tags = [child.tag for child in suite]
    for required in ("properties", "system-out", "system-err"):
        if tags.count(required) != 1:
            problems.append(f"testsuite: no <{required}>" if required not in tags else f"testsuite: two <{required}>")
    expected_order = ["properties", *["testcase"] * tags.count("testcase"), "system-out", "system-err"]
    if tags != expected_order and not problems:
        problems.append(f"testsuite: children out of the schema's order: {tags}")
    for child in suite:
        if child.tag == "properties":
            problems += [f"property: no `{name}`" for prop in child for name in ("name", "value")
                         if prop.get(name) is None]
        elif child.tag == "testcase":
            problems += _case_problems(child)
    if suite.get("tests") and INTEGER.match(suite.get("tests", "")) and int(suite.get("tests", "0")) != tags.count(
            "testcase"):
        problems.append(f"testsuite: tests={suite.get('tests')} but {tags.count('testcase')} <testcase>")
    return problems


def _case_problems(case: ElementTree.Element) -> list[str]:
    problems = [f"testcase: no `{name}`" for name in CASE_ATTRIBUTES if not case.get(name)]
    if case.get("time") and not DECIMAL.match(case.get("time", "")):
        problems.append(f"testcase: `time` is not a decimal: {case.get('time')!r}")
    results = [child for child in case if child.tag in ("skipped", "error", "failure")]
    if len(results) > 1 or len(results) != len(case):
        problems.append(f"testcase {case.get('name')}: children {[child.tag for child in case]}")
    problems += [f"testcase {case.get('name')}: <{child.tag}> without `type`" for child in results
                 if child.tag != "skipped" and not child.get("type")]
    return problems
