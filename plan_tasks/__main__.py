"""`python -m plan_tasks` runs the CLI."""

from plan_tasks.cli.main import main

raise SystemExit(main())
