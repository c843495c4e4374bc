"""`python -m executor …` runs the same command line as the `executor` console script."""

from executor.cli import main

raise SystemExit(main())
