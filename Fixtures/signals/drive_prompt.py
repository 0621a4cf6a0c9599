"""Drives `pyloader run ...` on a pseudo-terminal, as a person at a terminal would: waits for
each prompt, types a line, and prints everything the terminal showed. For SignalTests
(interactive prompt, issue 16).

usage: drive_prompt.py LINES_JSON PYLOADER ARGS...
Each line of LINES_JSON is typed after the next ">>> " or "... " prompt; "^C" sends Ctrl-C
and "^D" Ctrl-D. Exit status: pyloader's (killed after 30 s without output: 124)."""
import json
import os
import pty
import select
import sys
import time

lines = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])

output = b""


def read_until_prompt(timeout=30):
    global output
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return False
            if not chunk:
                return False
            output += chunk
            if output.endswith(b">>> ") or output.endswith(b"... "):
                return True
    return False


for line in lines:
    if not read_until_prompt():
        break
    if line == "^C":
        # As a person would, not within microseconds of the prompt: a signal that arrives
        # before readline waits for input is seen at the next key (python3's own window).
        time.sleep(0.3)
        os.write(fd, b"\x03")
    elif line == "^D":
        os.write(fd, b"\x04")
    else:
        os.write(fd, line.encode() + b"\r")
read_until_prompt(timeout=10)
deadline = time.monotonic() + 20
while True:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    if time.monotonic() > deadline:
        os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
        break
    read_until_prompt(timeout=0.2)
sys.stdout.write(output.decode(errors="replace").replace("\r\n", "\n"))
sys.stdout.write(f"\n[exit status {os.waitstatus_to_exitcode(status)}]\n")
