"""The interactive console of `pyloader run` (a terminal, or -i after a script).

Run in a scratch namespace of the loader's interpreter (MainProgram.swift); it works on
__main__'s namespace. It is the standard library's code.interact, with readline's line
editing and history when it loads, exit()/quit() (which `site` defines in python3;
PyLoader starts without `site`), and a python3-like banner naming the loader. Ctrl-D or
exit() end it.
"""
import builtins
import code
import sys

import __main__
import _sitebuiltins
import pyloader

try:
    import readline  # noqa: F401 (line editing and history on a terminal)
except ImportError:
    pass

if not hasattr(builtins, "exit"):
    builtins.exit = _sitebuiltins.Quitter("exit", "Ctrl-D (i.e. EOF)")
    builtins.quit = _sitebuiltins.Quitter("quit", "Ctrl-D (i.e. EOF)")

_readfunc = None
if pyloader.current() != pyloader.root():
    # Lines are read in the root: CPython 3.11 reports Ctrl-C to the main interpreter
    # only, so input() in a child would not see it until Enter. The root's
    # KeyboardInterrupt reaches the console here as the same exception.
    _root = pyloader.root()
    try:
        _root.exec("import readline")
    except ImportError:
        pass

    def _readfunc(prompt):
        return _root.eval(f"input({prompt!r})")

code.interact(
    readfunc=_readfunc,
    banner=f"Python {sys.version} on {sys.platform}\nPyLoader: loader {pyloader.current().name!r}"
           " (import pyloader to reach the others); exit() or Ctrl-D to leave.",
    local=__main__.__dict__, exitmsg="")
