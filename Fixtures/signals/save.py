"""Issue 16's script: Ctrl-C after 2 s must print "interrupted" and save the state."""
import time, sys
state = []
print("started", flush=True)   # for SignalTests: the loop runs from here
try:
    for i in range(100):
        state.append(i); time.sleep(0.1)
except KeyboardInterrupt:
    print("interrupted")
finally:
    open(sys.argv[1] if len(sys.argv) > 1 else "saved-state.txt", "w").write(repr(len(state)))
