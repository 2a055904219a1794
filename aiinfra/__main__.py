"""``python -m aiinfra`` is the ``aiinfra`` command."""

import sys

from aiinfra.cli import main

sys.exit(main())
