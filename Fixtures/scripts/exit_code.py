"""Script fixture: exits with the status given as its first argument."""

import sys

sys.exit(int(sys.argv[1]))
