import sys

from uva_kit.cli import main

sys.exit(main())
