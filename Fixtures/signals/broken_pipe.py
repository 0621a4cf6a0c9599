"""A write to a socket whose other end is closed raises BrokenPipeError, in the root and
in a child loader, as under python3 (which ignores SIGPIPE): it must not end the process.
boltons' test_socketutils found it. Prints one line per check."""
import signal

import pyloader

WRITE = """
import socket
_a, _b = socket.socketpair()
_b.close()
try:
    _a.sendall(b"x" * 10)
    outcome = "no error"
except BrokenPipeError:
    outcome = "BrokenPipeError"
finally:
    _a.close()
"""

namespace = {}
exec(WRITE, namespace)
print("root:", namespace["outcome"])
child = pyloader.current().child("writer")
child.exec(WRITE)
print("child:", child.eval("outcome"))
child.close()
for name in ("SIGPIPE", "SIGXFSZ"):
    ignored = signal.getsignal(getattr(signal, name)) == signal.SIG_IGN
    print(name, "ignored" if ignored else "not ignored")
