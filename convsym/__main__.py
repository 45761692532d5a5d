"""``python -m convsym``: the same command line as ``convsym``."""

from convsym.cli import main

raise SystemExit(main())
