// The hot import hook and the few C helpers Swift cannot express.
// See include/CPyLoader.h for what each function is for.

// The hook's fast-path trick writes `PyInterpreterState.import_func`, which only
// the internal headers declare (CPython 3.11; checked below).
#define Py_BUILD_CORE 1
#include "include/CPyLoader.h"
#include <internal/pycore_interp.h>

#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030C0000
#error "PyLoader's import hook is written against CPython 3.11's PyInterpreterState"
#endif

// MARK: Thread record

static _Thread_local void *thread_record = NULL;

void *pyl_GetThreadRecord(void) { return thread_record; }
void pyl_SetThreadRecord(void *record) { thread_record = record; }

// MARK: Import hook

/// One per loader. Lives in raw memory owned by the capsule that is the hook
/// function's `self`, so a hook still referenced after its loader closed is safe.
typedef struct HookState {
    PyInterpreterState *interp;   // NULL once disarmed
    void *owner;                  // opaque token for the cross-import callback
    PyObject *original;           // the interpreter's own builtins.__import__ (strong)
    char *name;                   // the loader's name, for error messages
    struct HookState *next;       // live hooks, for pyl_ContextCountChanged
} HookState;

static pyl_CrossImport cross_import = NULL;
static HookState *live_hooks = NULL;   // guarded by the GIL
static int context_count = 0;          // guarded by the GIL

static _Thread_local void *context_owner = NULL;
static _Thread_local PyInterpreterState *context_interp = NULL;

static const char *const hook_capsule_name = "pyloader.import_hook";

void pyl_SetCrossImport(pyl_CrossImport callback) { cross_import = callback; }

void pyl_SetContextLoader(void *owner, PyInterpreterState *interp) {
    context_owner = owner;
    context_interp = owner ? interp : NULL;
}

void *pyl_GetContextLoader(void) { return context_owner; }

static void unlink_hook(HookState *st) {
    for (HookState **p = &live_hooks; *p; p = &(*p)->next) {
        if (*p == st) { *p = st->next; st->next = NULL; return; }
    }
}

static void hook_capsule_destructor(PyObject *capsule) {
    HookState *st = PyCapsule_GetPointer(capsule, hook_capsule_name);
    if (!st) { PyErr_Clear(); return; }
    unlink_hook(st);
    Py_CLEAR(st->original);
    PyMem_RawFree(st->name);
    PyMem_RawFree(st);
}

// __import__(name, globals=None, locals=None, fromlist=(), level=0), parsed by
// hand: this runs on every import statement that cannot take the fast path.
static PyObject *
hook_import(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[5] = {"name", "globals", "locals", "fromlist", "level"};
    PyObject *argv[5] = {NULL, NULL, NULL, NULL, NULL};
    if (nargs > 5) {
        PyErr_Format(PyExc_TypeError, "__import__() takes at most 5 arguments (%zd given)", nargs);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) argv[i] = args[i];
    if (kwnames) {
        Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames);
        for (Py_ssize_t k = 0; k < nkw; k++) {
            PyObject *key = PyTuple_GET_ITEM(kwnames, k);
            int found = 0;
            for (int i = 0; i < 5; i++) {
                if (PyUnicode_CompareWithASCIIString(key, names[i]) == 0) {
                    if (argv[i]) {
                        PyErr_Format(PyExc_TypeError, "__import__() got multiple values for argument '%s'", names[i]);
                        return NULL;
                    }
                    argv[i] = args[nargs + k];
                    found = 1;
                    break;
                }
            }
            if (!found) {
                PyErr_Format(PyExc_TypeError, "__import__() got an unexpected keyword argument '%U'", key);
                return NULL;
            }
        }
    }
    PyObject *name = argv[0];
    if (!name) {
        PyErr_SetString(PyExc_TypeError, "__import__() missing required argument 'name' (pos 1)");
        return NULL;
    }
    int level = 0;
    if (argv[4]) {
        level = _PyLong_AsInt(argv[4]);
        if (level == -1 && PyErr_Occurred()) return NULL;
    }

    HookState *st = PyCapsule_GetPointer(self, hook_capsule_name);
    if (!st) return NULL;
    if (!st->interp) {
        PyErr_Format(PyExc_ImportError, "cannot import %R: loader '%s' is closed", name, st->name);
        return NULL;
    }

    // Relative imports always run in the owning loader; absolute ones honour
    // the thread's context loader.
    void *owner = st->owner;
    PyInterpreterState *target = st->interp;
    if (level == 0 && context_owner) { owner = context_owner; target = context_interp; }

    PyThreadState *current = _PyThreadState_UncheckedGet();
    if (current && current->interp == target) {
        return PyImport_ImportModuleLevelObject(name, argv[1], argv[2], argv[3], level);
    }
    if (!cross_import) {
        PyErr_SetString(PyExc_ImportError, "PyLoader import hook used before start-up");
        return NULL;
    }
    return cross_import(owner, name, argv[1], argv[2], argv[3], level);
}

static PyMethodDef hook_def = {
    "__import__", (PyCFunction)(void (*)(void))hook_import, METH_FASTCALL | METH_KEYWORDS,
    "__import__(name, globals=None, locals=None, fromlist=(), level=0) -> module\n\n"
    "PyLoader's import hook: runs the import in the loader that owns the importing code."
};

PyObject *pyl_MakeImportHook(PyInterpreterState *interp, void *owner, const char *loaderName) {
    PyObject *builtins = PyEval_GetBuiltins();   // borrowed; the interpreter's when no frame runs
    PyObject *original = builtins ? PyDict_GetItemString(builtins, "__import__") : NULL;
    if (!original) {
        PyErr_SetString(PyExc_RuntimeError, "builtins.__import__ is missing");
        return NULL;
    }
    HookState *st = PyMem_RawCalloc(1, sizeof(HookState));
    size_t len = strlen(loaderName);
    char *name = PyMem_RawMalloc(len + 1);
    if (!st || !name) {
        PyMem_RawFree(st); PyMem_RawFree(name);
        return PyErr_NoMemory();
    }
    memcpy(name, loaderName, len + 1);
    st->interp = interp;
    st->owner = owner;
    st->original = Py_NewRef(original);
    st->name = name;
    PyObject *capsule = PyCapsule_New(st, hook_capsule_name, hook_capsule_destructor);
    if (!capsule) {
        Py_DECREF(st->original); PyMem_RawFree(name); PyMem_RawFree(st);
        return NULL;
    }
    PyObject *hook = PyCFunction_NewEx(&hook_def, capsule, NULL);
    Py_DECREF(capsule);
    if (!hook) return NULL;
    st->next = live_hooks;
    live_hooks = st;
    return hook;
}

static HookState *hook_state(PyObject *hook) {
    if (!hook || !PyCFunction_Check(hook)) return NULL;
    if (PyCFunction_GET_FUNCTION(hook) != (PyCFunction)(void (*)(void))hook_import) return NULL;
    PyObject *self = PyCFunction_GET_SELF(hook);
    if (!self || !PyCapsule_IsValid(self, hook_capsule_name)) return NULL;
    return PyCapsule_GetPointer(self, hook_capsule_name);
}

int pyl_IsImportHook(PyObject *hook) { return hook_state(hook) != NULL; }

PyInterpreterState *pyl_ImportHookInterpreter(PyObject *hook) {
    HookState *st = hook_state(hook);
    return st ? st->interp : NULL;
}

int pyl_InstallImportHook(PyObject *hook) {
    HookState *st = hook_state(hook);
    PyThreadState *tstate = _PyThreadState_UncheckedGet();
    if (!st || !tstate || tstate->interp != st->interp) {
        PyErr_SetString(PyExc_RuntimeError, "not an import hook of the current interpreter");
        return -1;
    }
    PyObject *builtins = tstate->interp->builtins;
    if (PyDict_SetItemString(builtins, "__import__", hook) < 0) return -1;
    // The fast path: an import whose frame uses this interpreter's builtins
    // compares equal and goes straight to PyImport_ImportModuleLevelObject.
    // While a context loader is set anywhere, the original stays there instead,
    // so every import reaches the hook.
    PyObject *fast = context_count > 0 ? st->original : hook;
    Py_XSETREF(tstate->interp->import_func, Py_NewRef(fast));
    return 0;
}

int pyl_UninstallImportHook(PyObject *hook) {
    HookState *st = hook_state(hook);
    PyThreadState *tstate = _PyThreadState_UncheckedGet();
    if (!st || !tstate || tstate->interp != st->interp) {
        PyErr_SetString(PyExc_RuntimeError, "not an import hook of the current interpreter");
        return -1;
    }
    if (PyDict_SetItemString(tstate->interp->builtins, "__import__", st->original) < 0) return -1;
    Py_XSETREF(tstate->interp->import_func, Py_NewRef(st->original));
    return 0;
}

void pyl_DisarmImportHook(PyObject *hook) {
    HookState *st = hook_state(hook);
    if (!st) return;
    unlink_hook(st);
    st->interp = NULL;
    st->owner = NULL;
    // The original __import__ holds the interpreter's builtins module: keeping it
    // would hold a cycle (builtins dict -> hook -> capsule -> original -> builtins)
    // that the garbage collector cannot see through the capsule.
    Py_CLEAR(st->original);
}

// The stand-in for a closed loader's __import__: raises ImportError naming it.
// Its self is the loader's name (a str), so it holds nothing of the interpreter.
static PyObject *
closed_import(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *name = nargs > 0 ? args[0] : Py_None;
    PyErr_Format(PyExc_ImportError, "cannot import %R: loader '%U' is closed", name, self);
    return NULL;
}

static PyMethodDef closed_import_def = {
    "__import__", (PyCFunction)(void (*)(void))closed_import, METH_FASTCALL | METH_KEYWORDS,
    "The import function of a closed PyLoader loader: every import raises ImportError."
};

PyObject *pyl_MakeClosedImportStub(const char *loaderName) {
    PyObject *name = PyUnicode_FromString(loaderName);
    if (!name) return NULL;
    PyObject *stub = PyCFunction_NewEx(&closed_import_def, name, NULL);
    Py_DECREF(name);
    return stub;
}

void pyl_ContextCountChanged(int delta) {
    int before = context_count;
    context_count += delta;
    if ((before == 0) == (context_count == 0)) return;
    for (HookState *st = live_hooks; st; st = st->next) {
        if (!st->interp) continue;
        PyObject *builtins_hook = PyDict_GetItemString(st->interp->builtins, "__import__");
        if (!builtins_hook || hook_state(builtins_hook) != st) continue;   // replaced by user code
        PyObject *fast = context_count > 0 ? st->original : builtins_hook;
        Py_XSETREF(st->interp->import_func, Py_NewRef(fast));
    }
}

// MARK: Runtime start-up

static char start_error[512];

const char *pyl_StartRuntime(const char *program, int writeBytecode, int bufferedStdio) {
    // UTF-8 mode (PEP 540): text I/O and file names are UTF-8 whatever the locale.
    // The isolated configuration leaves the locale alone (it is the host's), so
    // without this an embedded interpreter under LANG=C.UTF-8 still ran with the
    // "C" locale's ASCII stdio, where `python3 -I` prints non-ASCII text.
    PyPreConfig preconfig;
    PyPreConfig_InitIsolatedConfig(&preconfig);
    preconfig.utf8_mode = 1;
    PyStatus prestatus = Py_PreInitialize(&preconfig);
    if (PyStatus_Exception(prestatus)) {
        snprintf(start_error, sizeof start_error, "%s", prestatus.err_msg ? prestatus.err_msg : "pre-initialization failed");
        return start_error;
    }
    PyConfig config;
    PyConfig_InitIsolatedConfig(&config);
    config.site_import = 0;
    config.install_signal_handlers = 0;
    config.use_environment = 0;
    config.user_site_directory = 0;
    config.parse_argv = 0;
    config.write_bytecode = writeBytecode;
    config.buffered_stdio = bufferedStdio;
    PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, program);
    if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        snprintf(start_error, sizeof start_error, "%s%s%s",
                 status.func ? status.func : "", status.func ? ": " : "",
                 status.err_msg ? status.err_msg : "CPython failed to start");
        return start_error;
    }
    return NULL;
}

// MARK: The `pyloader` module

static PyModuleDef_Slot pyloader_slots[] = {
    {Py_mod_exec, NULL},
    {0, NULL},
};

static PyModuleDef pyloader_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pyloader",
    .m_doc = "PyLoader: the loader tree this interpreter belongs to (Java's class loaders for CPython).",
    .m_size = 0,
    .m_methods = NULL,
    .m_slots = pyloader_slots,
};

void pyl_SetPyloaderModule(PyMethodDef *methods, pyl_ModuleExec exec) {
    pyloader_def.m_methods = methods;
    pyloader_slots[0].value = (void *)exec;
}

PyObject *pyl_PyloaderModuleInit(void) { return PyModuleDef_Init(&pyloader_def); }
