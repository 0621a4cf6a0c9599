"""Script fixture: prints sys.argv as JSON on one line."""

import json
import sys

print(json.dumps(sys.argv))
