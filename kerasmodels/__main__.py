import sys

from kerasmodels.cli import main

sys.exit(main())
