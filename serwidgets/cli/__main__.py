import sys

from serwidgets.cli import main

sys.exit(main())
