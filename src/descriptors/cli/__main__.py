import sys

from descriptors.cli import main

sys.exit(main())
