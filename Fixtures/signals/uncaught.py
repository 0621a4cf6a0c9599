"""An uncaught KeyboardInterrupt: traceback, atexit callbacks, then the process ends through SIGINT."""
import atexit
import time

atexit.register(lambda: print("atexit ran", flush=True))
print("started", flush=True)
for _ in range(300):
    time.sleep(0.1)
