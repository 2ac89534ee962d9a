"""``python -m digitlens`` runs the CLI."""

import sys

from digitlens.cli import main

sys.exit(main())
