// Umbrella header over Python.h.
// <sys/select.h> comes first: pyconfig.h sets _XOPEN_SOURCE, and without this
// include a clean build can fail with "'__fds_bits' ... not present in definition
// of 'fd_set'" when a Swift module imports both CPython and Glibc.
#include <sys/select.h>
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <marshal.h>
