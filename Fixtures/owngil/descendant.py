"""Own-GIL loaders closed as descendants (3.12+): with their parent, refused while a thread
runs in them, and at exit; each after a thread that used them has ended (its thread state
is parked for deletion under the loader's own GIL). Before the fix every path but the
loader's own close() aborted the process (Swift: "unowned reference ... already destroyed")."""
import threading
import time

import pyloader


def used_by_an_ended_thread(parent, name):
    own = parent.child(name, gil="own")
    worker = threading.Thread(target=own.exec, args=("x = 1",))
    worker.start()
    worker.join()
    return own


a = pyloader.root().child("descendant-a")
b = used_by_an_ended_thread(a, "descendant-b")
a.close()
print("closed with its parent:", b.closed)

a = pyloader.root().child("descendant-a2")
b = used_by_an_ended_thread(a, "descendant-b2")
busy = threading.Thread(target=b.exec,
                        args=("import time\nend = time.monotonic() + 1.5\nwhile time.monotonic() < end: pass",))
busy.start()
time.sleep(0.3)
try:
    a.close()
    print("closed while busy")
except RuntimeError as error:
    print("refused while busy:", "descendant-a2" in str(error), "descendant-b2" in str(error))
busy.join()
a.close()
print("closed afterwards:", b.closed)

a = pyloader.root().child("descendant-a3")
used_by_an_ended_thread(a, "descendant-b3")
used_by_an_ended_thread(pyloader.root(), "descendant-c3")
print("exiting with both open")
