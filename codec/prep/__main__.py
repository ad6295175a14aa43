"""`python -m codec.prep ...` (and torchrun -m codec.prep ...) = `codec prep ...`."""

from __future__ import annotations

import sys

if __name__ == "__main__":
    from codec.commands.prep import main

    sys.exit(main())
