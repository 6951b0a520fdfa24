"""``python -m streamer`` runs the ``streamer`` command."""

import sys

from .cli import main

sys.exit(main())
