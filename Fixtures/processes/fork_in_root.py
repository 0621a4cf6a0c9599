"""os.fork(), a fork-context Pool and subprocess with preexec_fn in the root, with 3 child
loaders alive (issue 17: the forked process used to hang). In the forked process only the
root is left: the children are closed there, and new ones can be made."""
import multiprocessing
import os
import signal
import subprocess
import sys
import time

import pyloader

children = [pyloader.root().child(f"forkroot-{i}") for i in range(3)]
for child in children:
    child.exec("import json")
pid = os.fork()
if pid == 0:
    status = 3
    try:
        children[0].eval("1")
        status = 10
    except pyloader.LoaderClosedError:
        pass
    if [loader.name for loader in pyloader.loaders()] != ["root"]:
        status = 11
    fresh = pyloader.root().child("forkroot-fresh")
    if fresh.eval("6 * 7") != 42:
        status = 12
    fresh.close()
    sys.stdout.flush()
    os._exit(status)
_, status = os.waitpid(pid, 0)
print("forked process exit status:", os.waitstatus_to_exitcode(status))
print("parent loaders:", [loader.name for loader in pyloader.loaders()], children[1].eval("2 + 2"))
with multiprocessing.get_context("fork").Pool(2) as pool:
    print("fork pool:", pool.map(abs, [-1, -2, -3]))
print("preexec_fn:", subprocess.run(["sh", "-c", "exit 4"], preexec_fn=lambda: None).returncode)
# SIGTERM ends a forked process (no PyLoader watcher thread runs there to act on it; Pool's
# terminate() relies on it). The forked process says when it runs, then waits.
ready_read, ready_write = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(ready_write, b"x")
    time.sleep(30)
    os._exit(0)
os.read(ready_read, 1)
os.kill(pid, signal.SIGTERM)
_, status = os.waitpid(pid, 0)
print("SIGTERM ends a forked process:", os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM)
for child in children:
    child.close()
