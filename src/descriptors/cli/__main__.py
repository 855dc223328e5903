import sys

from descriptors.cli.main import main

sys.exit(main())
