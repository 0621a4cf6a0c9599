"""save.py run inside a child loader (c.exec from pyloader run): Ctrl-C must reach it there."""
import sys

import pyloader

child = pyloader.root().child("saver")
child.exec("import sys\nsys.argv = " + repr(sys.argv))
with open(sys.argv[0].replace("save_in_child.py", "save.py")) as source:
    child.exec(source.read())
print("after the child")
