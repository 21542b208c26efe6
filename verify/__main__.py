"""``python -m bnconvex.verify`` runs the ``bnconvex`` command line."""

import sys

from bnconvex.verify.cli import main

sys.exit(main())
