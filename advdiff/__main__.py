"""``python -m advdiff`` runs the command line."""

import sys

from advdiff.cli import main

sys.exit(main())
