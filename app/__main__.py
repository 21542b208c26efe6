"""``python -m bnconvex.app`` runs the ``bnconvex`` command line."""

import sys

from bnconvex.app.cli import main

sys.exit(main())
