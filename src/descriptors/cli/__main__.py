import signal
import sys

# Ctrl-C / SIGTERM while the command is still importing: exit 130 / 143 quietly (main() and a
# screen install their own handlers as soon as they run)
signal.signal(signal.SIGINT, lambda s, f: sys.exit(128 + s))
signal.signal(signal.SIGTERM, lambda s, f: sys.exit(128 + s))

from descriptors.cli.main import main  # noqa: E402

signal.signal(signal.SIGINT, signal.default_int_handler)
signal.signal(signal.SIGTERM, signal.SIG_DFL)
sys.exit(main())
