"""`python -m plan_tasks` runs the CLI."""

from plan_tasks.cli import main

raise SystemExit(main())
