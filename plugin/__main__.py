"""`python -m plugin` is `kubectl-zkstash`."""

from plugin.cli import main

raise SystemExit(main())
