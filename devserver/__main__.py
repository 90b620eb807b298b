"""``python -m devserver``: the same as the ``tdev`` command."""

import sys

from devserver.cli import main

if __name__ == "__main__":
    sys.exit(main())
