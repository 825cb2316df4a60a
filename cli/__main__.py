"""``python -m cli``: the ``floor`` command (how ``floor run`` starts its processes)."""

import sys

from cli import main

sys.exit(main())
