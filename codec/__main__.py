"""`python -m codec` runs the command line."""

import sys

from codec.cli import main

sys.exit(main())
