"""uncaught.py's loop inside a child loader."""
import atexit

import pyloader

atexit.register(lambda: print("atexit ran", flush=True))
child = pyloader.root().child("looper")
child.exec("import time\nprint('started', flush=True)\nfor _ in range(300):\n    time.sleep(0.1)")
