/* `python3` built on the libpython PyLoader links (pkg-config python3-embed): CPython's own
 * main, nothing else. `pyloader bench` runs its process peers with it as well as with the
 * system's `python3`, because a distribution's `python3` executable may be a different
 * build of CPython: Debian 12's is linked statically with profile-guided optimization and
 * runs Python code about 1.4x faster than its libpython3.11.so (BENCHMARKS.md). Against
 * this one, a process and a loader run the same CPython. */
#include <Python.h>

int main(int argc, char **argv) {
    return Py_BytesMain(argc, argv);
}
