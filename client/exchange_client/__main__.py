"""``python -m exchange_client`` is the ``exchange`` command."""

import sys

from exchange_client.cli import main

sys.exit(main())
