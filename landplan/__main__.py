"""Run the landplan command: ``python -m landplan``."""

import sys

from .cli import main

sys.exit(main())
