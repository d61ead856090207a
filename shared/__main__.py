"""Entry point for `python -m shared` (the operator CLI in `shared.cli`)."""

import sys

from shared.cli import main

sys.exit(main())
