"""``python -m facecast`` runs the command line."""

import sys

from facecast.cli import main

sys.exit(main())
