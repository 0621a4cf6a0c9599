"""Processes made from a child loader (issue 17): os.fork/pty.fork raise RuntimeError,
multiprocessing defaults to spawn there (Pool and ProcessPoolExecutor work), an explicit
fork context raises, subprocess works, preexec_fn is refused by CPython itself."""
import pyloader

child = pyloader.root().child("forkchild")
child.exec('''
import os, pty, multiprocessing, subprocess
from concurrent.futures import ProcessPoolExecutor
for name, fork in (("os.fork", os.fork), ("pty.fork", pty.fork)):
    try:
        fork()
    except RuntimeError as error:
        print(name + ":", "RuntimeError", "forkchild" in str(error))
print("start method:", multiprocessing.get_start_method())
with multiprocessing.Pool(2) as pool:
    print("Pool():", pool.map(abs, [-1, -2]))
with ProcessPoolExecutor(2) as executor:
    print("ProcessPoolExecutor:", list(executor.map(abs, [-5, -6])))
try:
    multiprocessing.get_context("fork").Pool(1)
except RuntimeError:
    print("fork context: RuntimeError")
print("subprocess:", subprocess.run(["sh", "-c", "exit 4"]).returncode)
try:
    subprocess.run(["true"], preexec_fn=lambda: None)
except RuntimeError as error:
    print("preexec_fn:", error)
''')
child.exec("import pyloader\nROOT = pyloader.root()")
try:
    child.exec("ROOT.exec('import os\\nos.fork()')")
except RuntimeError as error:
    print("root code under the child:", "RuntimeError", "forkchild" in str(error))
child.close()
