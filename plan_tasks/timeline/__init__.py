"""A finished run as a picture and as a test report, from status.json. No Prefect here.

``model`` turns status.json's record of a run into a :class:`Timeline`
(attempts, critical path, slots busy); ``page`` and ``svg`` draw it as one
self-contained HTML file; ``junit`` writes it as JUnit XML; ``outputs`` reads
and writes the files for `plan-tasks report` and `plan-tasks run --report/--junit`.
"""

DEFAULT_REPORT = "auto"  # the report's path when `--report` is given without one: report.html in the output folder
