"""A pure-Python loop in a child loader (no blocking call, no GIL switch of its own):
Ctrl-C must raise KeyboardInterrupt in it at once, not after the loop's 60 s."""
import time

import pyloader

child = pyloader.root().child("busy")
print("started", flush=True)
began = time.monotonic()
try:
    child.exec("import time\nend = time.monotonic() + 60\nwhile time.monotonic() < end:\n    pass")
    print("not interrupted")
except KeyboardInterrupt:
    print(f"interrupted after {time.monotonic() - began:.1f} s")
