"""``python -m device.cli``: the ``crampwatch`` command (the installed systemd unit may start it so)."""

import sys

from device.cli.main import main

sys.exit(main())
