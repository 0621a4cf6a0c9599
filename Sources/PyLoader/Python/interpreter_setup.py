"""Set-up and tear-down steps PyLoader runs inside a loader's interpreter
(InterpreterSetup.swift, OwnGIL.swift, Loader+Manifest.swift).

Executed in a scratch namespace of that interpreter, then one function is called with
its arguments by name. Every interpreter can run it, own-GIL loaders too: it needs
nothing of the `pyloader` module.
"""
import os
import site
import sys
import time


def add_site_dirs(folders, system_site_packages=False):
    """site.addsitedir each folder (processing its .pth files; a folder already on sys.path
    is not added twice), then, when asked, the system's site-packages folders that exist."""
    for folder in folders:
        site.addsitedir(folder)
    if system_site_packages:
        for folder in site.getsitepackages():
            if os.path.isdir(folder):
                site.addsitedir(folder)


def join_threads(timeout):
    """Join the non-daemon threads Python code started here, for at most `timeout`
    seconds in all (before the loader's interpreter is ended)."""
    threading = sys.modules.get("threading")
    if threading is None:
        return
    deadline = time.monotonic() + timeout
    skip = (threading.main_thread(), threading.current_thread())
    for thread in threading.enumerate():
        if thread in skip or thread.daemon:
            continue
        thread.join(max(0.0, deadline - time.monotonic()))

