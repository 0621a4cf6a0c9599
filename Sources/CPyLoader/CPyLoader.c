// The hot import hook and the few C helpers Swift cannot express.
// See include/CPyLoader.h for what each function is for.

// The hook's fast-path trick writes `PyInterpreterState.import_func`, which only
// the internal headers declare; every field of them used here is behind the
// version seam below.
#define Py_BUILD_CORE 1
#define _GNU_SOURCE 1   // dladdr
#include <dlfcn.h>
#include "include/CPyLoader.h"
#include <internal/pycore_interp.h>
#include <internal/pycore_runtime.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <errno.h>
#include <internal/pycore_ceval.h>

// MARK: CPython versions
//
// The one place where CPython's versions differ for the C target (3.11 to 3.14). Each
// difference names the version and change that caused it. The #if PY_VERSION_HEX further
// down (and in include/CPyLoader.h) sit beside the code they change, each with its reason;
// docs/ARCHITECTURE.md lists them. The Swift side's seam is Internals/PythonVersion.swift.

#if PY_VERSION_HEX < 0x030B0000
#error "PyLoader needs CPython 3.11 or newer"
#endif

// 3.12 (gh-101758, the per-interpreter import state) moved `import_func` and `modules`
// into `interp->imports`.
#if PY_VERSION_HEX >= 0x030C0000
#define PYL_IMPORT_FUNC(interp) ((interp)->imports.import_func)
#define PYL_INTERP_MODULES(interp) ((interp)->imports.modules)
#else
#define PYL_IMPORT_FUNC(interp) ((interp)->import_func)
#define PYL_INTERP_MODULES(interp) ((interp)->modules)
#endif

// 3.13 made `PyLong_AsInt` public and removed `_PyLong_AsInt` (gh-108444).
#if PY_VERSION_HEX >= 0x030D0000
#define pyl_LongAsInt PyLong_AsInt
#else
#define pyl_LongAsInt _PyLong_AsInt
#endif

// Pending calls of a sub-interpreter: 3.11 runs them on the process's main thread only.
// 3.12 (gh-104812) runs them on any thread of the interpreter, and its "main thread only"
// argument (3.13: a flag) queues them for the main interpreter whatever the interpreter
// given: the caller checks the thread itself (PYL_PENDING_CALLS_ON_ANY_THREAD).
#if PY_VERSION_HEX >= 0x030C0000
#define PYL_PENDING_CALLS_ON_ANY_THREAD 1
static int add_pending_call(PyInterpreterState *interp, int (*func)(void *), void *arg) {
    return _PyEval_AddPendingCall(interp, func, arg, 0) == 0 ? 0 : -1;
}
#else
#define PYL_PENDING_CALLS_ON_ANY_THREAD 0
static int add_pending_call(PyInterpreterState *interp, int (*func)(void *), void *arg) {
    return _PyEval_AddPendingCall(interp, func, arg);
}
#endif

// The runtime's list of interpreters at fork(). 3.11 re-initializes its lock only after
// it has taken it again in the child (gh-112275), so PyLoader holds it across fork();
// 3.12 re-initializes it first, and 3.13's PyOS_BeforeFork holds it itself (a PyMutex,
// not recursive: taking it again would deadlock).
#if PY_VERSION_HEX < 0x030C0000
#define PYL_HOLD_HEAD_LOCK_ACROSS_FORK 1
#else
#define PYL_HOLD_HEAD_LOCK_ACROSS_FORK 0
#endif

// A thread state's depth of Python calls: 3.12 split the recursion counter into a Python
// and a C one (py_recursion_*, gh-91079); 3.11's one counter counts both.
#if PY_VERSION_HEX >= 0x030C0000
static int python_depth(PyThreadState *tstate) { return tstate->py_recursion_limit - tstate->py_recursion_remaining; }
#else
static int python_depth(PyThreadState *tstate) { return tstate->recursion_limit - tstate->recursion_remaining; }
#endif

int pyl_PythonVersionHex(void) { return PY_VERSION_HEX; }

const char *pyl_LinkedLibraryPath(void) {
    Dl_info info;
    if (dladdr((void *)&Py_GetVersion, &info) == 0) return NULL;
    return info.dli_fname;
}

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
    PyObject *gcd_original;       // its own _frozen_importlib._gcd_import (strong), once wrapped
    PyObject *find_and_load_original;   // its own _frozen_importlib._find_and_load (strong), once wrapped
    PyObject *build_class_original;   // its own builtins.__build_class__ (strong), once wrapped
    PyObject *classes;            // {weakref(cls): None} for classes made here (strong), once wrapped
    PyObject *forget_class;       // the weakref callback that removes a dead class from `classes`
    char *name;                   // the loader's name, for error messages
} HookState;

static pyl_CrossImport cross_import = NULL;
static pyl_ContextImport context_import = NULL;
static pyl_CrossCall cross_call = NULL;
static pyl_HandOver hand_over = NULL;

static _Thread_local void *context_owner = NULL;

static const char *const hook_capsule_name = "pyloader.import_hook";

void pyl_SetCrossImport(pyl_CrossImport callback) { cross_import = callback; }
void pyl_SetContextImport(pyl_ContextImport callback) { context_import = callback; }
void pyl_SetCrossCall(pyl_CrossCall callback) { cross_call = callback; }
void pyl_SetHandOver(pyl_HandOver callback) { hand_over = callback; }

void pyl_SetContextLoader(void *owner) { context_owner = owner; }

static void hook_capsule_destructor(PyObject *capsule) {
    HookState *st = PyCapsule_GetPointer(capsule, hook_capsule_name);
    if (!st) { PyErr_Clear(); return; }
    Py_CLEAR(st->original);
    Py_CLEAR(st->gcd_original);
    Py_CLEAR(st->find_and_load_original);
    Py_CLEAR(st->build_class_original);
    Py_CLEAR(st->classes);
    Py_CLEAR(st->forget_class);
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
        level = pyl_LongAsInt(argv[4]);
        if (level == -1 && PyErr_Occurred()) return NULL;
    }

    HookState *st = PyCapsule_GetPointer(self, hook_capsule_name);
    if (!st) return NULL;
    if (!st->interp) {
        PyErr_Format(PyExc_ImportError, "cannot import %R: loader '%s' is closed", name, st->name);
        return NULL;
    }

    // Eby's rule, and the context rule's step 1 (see ContextLoaders.swift): every import
    // statement and __import__ call runs in the loader that owns the importing code,
    // whatever the thread's context loader.
    PyThreadState *current = _PyThreadState_UncheckedGet();
    if (current && current->interp == st->interp) {
        return PyImport_ImportModuleLevelObject(name, argv[1], argv[2], argv[3], level);
    }
    if (!cross_import) {
        PyErr_SetString(PyExc_ImportError, "PyLoader import hook used before start-up");
        return NULL;
    }
    return cross_import(st->owner, name, argv[1], argv[2], argv[3], level);
}

// The wrapper of `_frozen_importlib._gcd_import(name, package=None, level=0)`, which
// `importlib.import_module` calls: a lookup by name. Which lookups the thread's context
// loader serves is the context rule's (ContextLoaders.swift, steps 2-3, decided in Swift);
// everything else runs in the loader that owns this importlib (Eby's rule, as for __import__).
static PyObject *
hook_gcd_import(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    HookState *st = PyCapsule_GetPointer(self, hook_capsule_name);
    if (!st) return NULL;
    if (!st->interp || !st->gcd_original) {
        PyObject *name = nargs > 0 ? args[0] : Py_None;
        PyErr_Format(PyExc_ImportError, "cannot import %R: loader '%s' is closed", name, st->name);
        return NULL;
    }
    // The thread has a context loader: Swift decides whether this lookup is one it serves
    // (ContextLoaders.contextLookup); NULL without an exception means it is not.
    if (context_owner && context_import) {
        PyObject *module = context_import(context_owner, st->owner, args, nargs, kwnames);
        if (module || PyErr_Occurred()) return module;
    }
    PyThreadState *current = _PyThreadState_UncheckedGet();
    if (current && current->interp == st->interp) {
        return PyObject_Vectorcall(st->gcd_original, args, nargs, kwnames);
    }
    if (!cross_call) {
        PyErr_SetString(PyExc_ImportError, "PyLoader import hook used before start-up");
        return NULL;
    }
    return cross_call(st->owner, st->gcd_original, args, nargs, kwnames);
}

static PyMethodDef gcd_import_def = {
    "_gcd_import", (PyCFunction)(void (*)(void))hook_gcd_import, METH_FASTCALL | METH_KEYWORDS,
    "_gcd_import(name, package=None, level=0) -> module\n\n"
    "PyLoader's wrapper of importlib's _gcd_import (importlib.import_module's import): the\n"
    "thread's context loader serves absolute lookups made outside module bodies."
};

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
    return hook;
}

static HookState *hook_state(PyObject *hook) {
    if (!hook || !PyCFunction_Check(hook)) return NULL;
    if (PyCFunction_GET_FUNCTION(hook) != (PyCFunction)(void (*)(void))hook_import) return NULL;
    PyObject *self = PyCFunction_GET_SELF(hook);
    if (!self || !PyCapsule_IsValid(self, hook_capsule_name)) return NULL;
    return PyCapsule_GetPointer(self, hook_capsule_name);
}

// The hook's state when it is an import hook of the current interpreter; else NULL with
// a RuntimeError set.
static HookState *current_hook_state(PyObject *hook) {
    HookState *st = hook_state(hook);
    PyThreadState *tstate = _PyThreadState_UncheckedGet();
    if (!st || !tstate || tstate->interp != st->interp) {
        PyErr_SetString(PyExc_RuntimeError, "not an import hook of the current interpreter");
        return NULL;
    }
    return st;
}

int pyl_InstallImportHook(PyObject *hook) {
    HookState *st = current_hook_state(hook);
    if (!st) return -1;
    PyThreadState *tstate = _PyThreadState_UncheckedGet();
    PyObject *builtins = tstate->interp->builtins;
    if (PyDict_SetItemString(builtins, "__import__", hook) < 0) return -1;
    // The fast path: an import whose frame uses this interpreter's builtins
    // compares equal and goes straight to PyImport_ImportModuleLevelObject.
    Py_XSETREF(PYL_IMPORT_FUNC(tstate->interp), Py_NewRef(hook));
    return 0;
}

// MARK: Classes record their defining loader

// The weakref callback: self is the `classes` dict, the argument the dead class's weakref.
static PyObject *forget_class(PyObject *classes, PyObject *ref) {
    if (PyDict_DelItem(classes, ref) < 0) PyErr_Clear();
    Py_RETURN_NONE;
}

static PyMethodDef forget_class_def = {"_forget_class", forget_class, METH_O, NULL};

// builtins.__build_class__ of one loader (every class statement of code that uses that
// loader's builtins calls it): the original, then the class is recorded as defined here.
static PyObject *
hook_build_class(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    HookState *st = PyCapsule_GetPointer(self, hook_capsule_name);
    if (!st) return NULL;
    if (!st->build_class_original) {
        PyErr_Format(PyExc_RuntimeError, "cannot define a class: loader '%s' is closed", st->name);
        return NULL;
    }
    PyObject *cls = PyObject_Vectorcall(st->build_class_original, args, nargs, kwnames);
    if (cls && st->classes && PyType_Check(cls)) {
        PyObject *ref = PyWeakref_NewRef(cls, st->forget_class);
        if (!ref || PyDict_SetItem(st->classes, ref, Py_None) < 0) PyErr_Clear();
        Py_XDECREF(ref);
    } else if (cls && PyErr_Occurred()) {
        PyErr_Clear();
    }
    return cls;
}

static PyMethodDef build_class_def = {
    "__build_class__", (PyCFunction)(void (*)(void))hook_build_class, METH_FASTCALL | METH_KEYWORDS,
    "__build_class__(func, name, /, *bases, [metaclass], **kwds) -> class\n\n"
    "PyLoader's wrapper: builds the class, then records this loader as its defining loader."
};

int pyl_WrapBuildClass(PyObject *hook) {
    HookState *st = current_hook_state(hook);
    if (!st) return -1;
    PyThreadState *tstate = _PyThreadState_UncheckedGet();
    if (st->build_class_original) return 0;
    PyObject *builtins = tstate->interp->builtins;
    PyObject *original = PyDict_GetItemString(builtins, "__build_class__");   // borrowed
    if (!original) { PyErr_SetString(PyExc_RuntimeError, "builtins.__build_class__ is missing"); return -1; }
    PyObject *classes = PyDict_New();
    PyObject *forget = classes ? PyCFunction_NewEx(&forget_class_def, classes, NULL) : NULL;
    PyObject *wrapper = forget ? PyCFunction_NewEx(&build_class_def, PyCFunction_GET_SELF(hook), NULL) : NULL;
    if (!wrapper || PyDict_SetItemString(builtins, "__build_class__", wrapper) < 0) {
        Py_XDECREF(classes); Py_XDECREF(forget); Py_XDECREF(wrapper);
        return -1;
    }
    Py_DECREF(wrapper);
    st->build_class_original = Py_NewRef(original);
    st->classes = classes;
    st->forget_class = forget;
    return 0;
}

PyObject *pyl_InterpreterModules(PyInterpreterState *interp) {
    return interp ? PYL_INTERP_MODULES(interp) : NULL;
}

const char *pyl_QualifiedName(PyObject *o) {
    static char buffer[512];
    PyObject *module = NULL, *name = NULL;   // borrowed
    if (PyModule_Check(o)) {
        PyObject *dict = PyModule_GetDict(o);
        name = dict ? PyDict_GetItemString(dict, "__name__") : NULL;
    } else if (PyType_Check(o)) {
        PyTypeObject *type = (PyTypeObject *)o;
        if (PyType_HasFeature(type, Py_TPFLAGS_HEAPTYPE)) {
            name = ((PyHeapTypeObject *)type)->ht_qualname;
            module = type->tp_dict ? PyDict_GetItemString(type->tp_dict, "__module__") : NULL;
        }
        if (!name) { snprintf(buffer, sizeof buffer, "%s", type->tp_name); return buffer; }
    } else if (PyFunction_Check(o)) {
        name = ((PyFunctionObject *)o)->func_qualname;
        module = ((PyFunctionObject *)o)->func_module;
    }
    const char *n = name && PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
    const char *m = module && PyUnicode_Check(module) ? PyUnicode_AsUTF8(module) : NULL;
    if (PyErr_Occurred()) PyErr_Clear();
    snprintf(buffer, sizeof buffer, "%s%s%s", m ? m : "", m ? "." : "", n ? n : "?");
    return buffer;
}

PyObject *pyl_GlobalsBuiltins(PyObject *globals) {
    static PyObject *key = NULL;   // made once, kept for the process (the root makes it first)
    if (!key) {
        key = PyUnicode_InternFromString("__builtins__");
        if (!key) { PyErr_Clear(); return NULL; }
    }
    PyObject *builtins = PyDict_GetItemWithError(globals, key);
    if (!builtins) { PyErr_Clear(); return NULL; }
    if (PyModule_Check(builtins)) return PyModule_GetDict(builtins);
    return builtins;
}

// Whether `o` could belong to a loader (a module, a function, a class made at run time or
// an instance of one): the leak scan's cheap first test (no Python code runs).
static int leak_candidate(PyObject *o) {
    if (PyModule_Check(o) || PyFunction_Check(o)) return 1;
    if (PyType_Check(o)) return PyType_HasFeature((PyTypeObject *)o, Py_TPFLAGS_HEAPTYPE);
    return PyType_HasFeature(Py_TYPE(o), Py_TPFLAGS_HEAPTYPE);
}

// Whether `key` is a str that starts with two underscores.
static int is_dunder_name(PyObject *key) {
    if (!PyUnicode_Check(key) || PyUnicode_GET_LENGTH(key) < 2) return 0;
    return PyUnicode_READ_CHAR(key, 0) == '_' && PyUnicode_READ_CHAR(key, 1) == '_';
}

void pyl_ScanNamespace(PyObject *globals, Py_ssize_t limit, pyl_LeakVisit visit, void *context) {
    Py_ssize_t position = 0;
    PyObject *key, *value;
    while (PyDict_Next(globals, &position, &key, &value)) {
        if (is_dunder_name(key)) continue;
        if (leak_candidate(value)) {
            visit(context, key, NULL, -1, value);
        } else if (PyDict_Check(value)) {
            Py_ssize_t inner = 0, seen = 0;
            PyObject *k, *v;
            while (seen++ < limit && PyDict_Next(value, &inner, &k, &v)) {
                if (leak_candidate(v)) visit(context, key, k, -1, v);
            }
        } else if (PyList_Check(value) || PyTuple_Check(value)) {
            Py_ssize_t n = PyList_Check(value) ? PyList_GET_SIZE(value) : PyTuple_GET_SIZE(value);
            for (Py_ssize_t i = 0; i < n && i < limit; i++) {
                PyObject *item = PyList_Check(value) ? PyList_GET_ITEM(value, i) : PyTuple_GET_ITEM(value, i);
                if (leak_candidate(item)) visit(context, key, NULL, i, item);
            }
        }
    }
}

int pyl_IsHeapType(PyObject *o) {
    return PyType_Check(o) && PyType_HasFeature((PyTypeObject *)o, Py_TPFLAGS_HEAPTYPE);
}

int pyl_IsCodeHolder(PyObject *o) {
    if (PyFunction_Check(o) || PyMethod_Check(o) || PyModule_Check(o)) return 1;
    PyTypeObject *type = Py_TYPE(o);
    if (type == &PyProperty_Type || type == &PyClassMethod_Type || type == &PyStaticMethod_Type) return 1;
    return strcmp(type->tp_name, "functools.partial") == 0;
}

int pyl_HookDefinedClass(PyObject *hook, PyObject *cls) {
    HookState *st = hook_state(hook);
    if (!st || !st->classes || !PyType_Check(cls)) return 0;
    PyObject *ref = PyWeakref_NewRef(cls, NULL);
    if (!ref) { PyErr_Clear(); return 0; }
    int found = PyDict_Contains(st->classes, ref);
    Py_DECREF(ref);
    if (found < 0) { PyErr_Clear(); return 0; }
    return found;
}

// Replaces `_frozen_importlib.<def->ml_name>` of the hook's (current) interpreter with a
// function of `def` bound to the hook's capsule, keeping the original in `*original`.
static int wrap_bootstrap_function(PyObject *hook, PyMethodDef *def, PyObject **original) {
    if (*original) return 0;
    PyObject *bootstrap = PyImport_AddModule("_frozen_importlib");   // borrowed
    if (!bootstrap) return -1;
    PyObject *found = PyObject_GetAttrString(bootstrap, def->ml_name);
    if (!found) return -1;
    PyObject *wrapper = PyCFunction_NewEx(def, PyCFunction_GET_SELF(hook), NULL);
    if (!wrapper) { Py_DECREF(found); return -1; }
    if (PyObject_SetAttrString(bootstrap, def->ml_name, wrapper) < 0) {
        Py_DECREF(found); Py_DECREF(wrapper);
        return -1;
    }
    Py_DECREF(wrapper);
    *original = found;
    return 0;
}

int pyl_WrapImportModule(PyObject *hook) {
    HookState *st = current_hook_state(hook);
    return st ? wrap_bootstrap_function(hook, &gcd_import_def, &st->gcd_original) : -1;
}

// _frozen_importlib._find_and_load(name, import_) of a child, which importlib calls on every
// sys.modules miss (PyImport_ImportModuleLevelObject, _gcd_import): the delegated-import fast
// path. The Swift callback hands over a module the defining loader already holds (the rule
// is Resolver.handOver's); when it declines (NULL, no exception), importlib's own
// _find_and_load runs: the finder path, unchanged.
static PyObject *
hook_find_and_load(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    HookState *st = PyCapsule_GetPointer(self, hook_capsule_name);
    if (!st) return NULL;
    if (!st->interp || !st->find_and_load_original) {
        PyErr_Format(PyExc_ImportError, "cannot import: loader '%s' is closed", st->name);
        return NULL;
    }
    // Only in its own interpreter: the hand-over writes the current sys.modules.
    PyThreadState *current = _PyThreadState_UncheckedGet();
    if (nargs >= 1 && PyUnicode_Check(args[0]) && hand_over && current && current->interp == st->interp) {
        PyObject *module = hand_over(st->owner, args[0]);
        if (module || PyErr_Occurred()) return module;
    }
    return PyObject_Vectorcall(st->find_and_load_original, args, nargs, NULL);
}

static PyMethodDef find_and_load_def = {
    "_find_and_load", (PyCFunction)(void (*)(void))hook_find_and_load, METH_FASTCALL,
    "_find_and_load(name, import_) -> module\n\n"
    "PyLoader's wrapper of importlib's _find_and_load in a child: a module the defining\n"
    "loader already holds is handed over without importlib's search."
};

int pyl_WrapFindAndLoad(PyObject *hook) {
    HookState *st = current_hook_state(hook);
    return st ? wrap_bootstrap_function(hook, &find_and_load_def, &st->find_and_load_original) : -1;
}

PyObject *pyl_OriginalImportModule(void) {
    PyObject *bootstrap = PyImport_AddModule("_frozen_importlib");   // borrowed
    if (!bootstrap) return NULL;
    PyObject *current = PyObject_GetAttrString(bootstrap, "_gcd_import");
    if (!current) return NULL;
    if (PyCFunction_Check(current)
        && PyCFunction_GET_FUNCTION(current) == (PyCFunction)(void (*)(void))hook_gcd_import) {
        PyObject *self = PyCFunction_GET_SELF(current);
        HookState *st = self && PyCapsule_IsValid(self, hook_capsule_name)
            ? PyCapsule_GetPointer(self, hook_capsule_name) : NULL;
        Py_DECREF(current);
        if (!st || !st->gcd_original) {
            PyErr_SetString(PyExc_RuntimeError, "importlib's _gcd_import wrapper has no original");
            return NULL;
        }
        return Py_NewRef(st->gcd_original);
    }
    return current;
}

int pyl_UninstallImportHook(PyObject *hook) {
    HookState *st = current_hook_state(hook);
    if (!st) return -1;
    PyThreadState *tstate = _PyThreadState_UncheckedGet();
    if (PyDict_SetItemString(tstate->interp->builtins, "__import__", st->original) < 0) return -1;
    Py_XSETREF(PYL_IMPORT_FUNC(tstate->interp), Py_NewRef(st->original));
    return 0;
}

void pyl_DisarmImportHook(PyObject *hook) {
    HookState *st = hook_state(hook);
    if (!st) return;
    st->interp = NULL;
    st->owner = NULL;
    // The original __import__ holds the interpreter's builtins module: keeping it
    // would hold a cycle (builtins dict -> hook -> capsule -> original -> builtins)
    // that the garbage collector cannot see through the capsule.
    Py_CLEAR(st->original);
    Py_CLEAR(st->gcd_original);
    Py_CLEAR(st->find_and_load_original);
    Py_CLEAR(st->build_class_original);
    Py_CLEAR(st->classes);
    Py_CLEAR(st->forget_class);
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

// MARK: Interpreter creation (version seam)

PyThreadState *pyl_NewInterpreter(int ownGIL, char *error, size_t errorSize) {
#if PY_VERSION_HEX >= 0x030C0000
    // 3.12 (PEP 684): Py_NewInterpreter is Py_NewInterpreterFromConfig with the legacy
    // configuration (the main GIL, the main allocator, single-phase extensions allowed),
    // which keeps 3.11's behaviour. An own GIL needs its own allocator, and then only
    // extension modules that declare per-interpreter-GIL support can load; fork() and
    // daemon threads are refused inside it, as in PEP 734's interpreters.
    PyInterpreterConfig config = {
        .use_main_obmalloc = ownGIL ? 0 : 1,
        .allow_fork = ownGIL ? 0 : 1,
        .allow_exec = ownGIL ? 0 : 1,
        .allow_threads = 1,
        .allow_daemon_threads = ownGIL ? 0 : 1,
        .check_multi_interp_extensions = ownGIL ? 1 : 0,
        .gil = ownGIL ? PyInterpreterConfig_OWN_GIL : PyInterpreterConfig_SHARED_GIL,
    };
    PyThreadState *tstate = NULL;
    PyStatus status = Py_NewInterpreterFromConfig(&tstate, &config);
    if (PyStatus_Exception(status)) {
        snprintf(error, errorSize, "%s", status.err_msg ? status.err_msg : "Py_NewInterpreterFromConfig failed");
        return NULL;
    }
    return tstate;
#else
    if (ownGIL) {
        snprintf(error, errorSize, "CPython %d.%d has one GIL for the whole process", PY_MAJOR_VERSION, PY_MINOR_VERSION);
        return NULL;
    }
    PyThreadState *tstate = Py_NewInterpreter();
    if (!tstate) snprintf(error, errorSize, "Py_NewInterpreter failed");
    return tstate;
#endif
}

// MARK: Objects shared between interpreters of one GIL (3.12+)
//
// 3.11 kept one dictionary per static type and one counter of type versions for the whole
// process, so an object could be used from any interpreter. 3.12 moved both into each
// interpreter (gh-105227: the dictionaries of static builtin types; gh-104600 and PEP 684:
// the counter of heap-type versions), which the specializing interpreter then trusts:
//   - an attribute cache of a function specialized on `list.append` in one interpreter holds
//     that interpreter's descriptor, borrowed; run by another (a parent's function called
//     from a child), after the first ended, it read freed memory;
//   - two classes of two interpreters could get the same version number, and a function
//     that saw both (a host's API handed objects of two plugins) read attributes of one at
//     the offsets of the other.
// A loader that shares its parent's GIL therefore shares the root's static-type dictionaries
// and draws its type versions from a range no other live loader uses. Own-GIL loaders share
// no object, so they need neither.

#if PY_VERSION_HEX >= 0x030C0000
// Versions below 2^31 are the root's (it starts at 2^17 and would need two billion
// classes or class changes to get there); the rest is cut into ranges, one per loader.
#define PYL_VERSION_RANGE_START 0x80000000u
#define PYL_VERSION_RANGE_SIZE 0x20000u      // 131072 class versions per loader
#define PYL_VERSION_RANGES ((unsigned int)(0x80000000u / PYL_VERSION_RANGE_SIZE))

// Forgets the version of every heap class made in the current interpreter below `limit`:
// the next use takes a new one from the interpreter's range. PyType_Modified forgets a
// class's subclasses too, and a class without a version has none below it (versions are
// given to bases first), so only static types need their subclasses walked.
static int renumber_classes(PyObject *type, unsigned int limit) {
    // type.__subclasses__(type): `type` itself is one of object's subclasses, and its own
    // attribute would be the unbound method.
    PyObject *subclasses = PyObject_CallMethod((PyObject *)&PyType_Type, "__subclasses__", "O", type);
    if (!subclasses) return -1;
    int result = 0;
    for (Py_ssize_t i = 0; result == 0 && i < PyList_GET_SIZE(subclasses); i++) {
        PyTypeObject *cls = (PyTypeObject *)PyList_GET_ITEM(subclasses, i);
        if (!PyType_HasFeature(cls, Py_TPFLAGS_HEAPTYPE)) {
            result = renumber_classes((PyObject *)cls, limit);
        } else if (cls->tp_version_tag != 0 && cls->tp_version_tag < limit) {
            PyType_Modified(cls);
        }
    }
    Py_DECREF(subclasses);
    return result;
}
#endif

int pyl_GiveTypeVersionRange(PyInterpreterState *interp, unsigned int loaderNumber) {
#if PY_VERSION_HEX >= 0x030C0000
    unsigned int start = PYL_VERSION_RANGE_START + (loaderNumber % PYL_VERSION_RANGES) * PYL_VERSION_RANGE_SIZE;
    interp->types.next_version_tag = start;
    // The classes the interpreter made while it started took numbers of the root's range.
    return renumber_classes((PyObject *)&PyBaseObject_Type, start);
#else
    (void)interp; (void)loaderNumber;
    return 0;
#endif
}

#if PY_VERSION_HEX >= 0x030D0000
#define PYL_STATIC_BUILTIN_COUNT(interp) ((interp)->types.builtins.num_initialized)
#define PYL_STATIC_BUILTIN_STATE(interp, i) (&(interp)->types.builtins.initialized[i])
#elif PY_VERSION_HEX >= 0x030C0000
// 3.12's layout (`static_builtin_state`), from its headers; no 3.12 is built here.
#define PYL_STATIC_BUILTIN_COUNT(interp) ((interp)->types.num_builtins_initialized)
#define PYL_STATIC_BUILTIN_STATE(interp, i) (&(interp)->types.builtins[i])
#endif

/// The dictionaries an interpreter had before it took the root's: its own code may have
/// cached their contents (borrowed) while it started, so they live until it has ended.
typedef struct { Py_ssize_t count; PyObject *dicts[]; } ReplacedDictionaries;

void *pyl_ShareStaticTypeDictionaries(PyInterpreterState *interp, PyInterpreterState *root) {
#if PY_VERSION_HEX >= 0x030C0000
    size_t capacity = PYL_STATIC_BUILTIN_COUNT(interp);
#if PY_VERSION_HEX >= 0x030D0000
    // 3.13 gave extension modules static types with per-interpreter dictionaries too
    // (only `_datetime` uses them; see PythonVersion.modulesEveryInterpreterImports).
    capacity += _Py_MAX_MANAGED_STATIC_EXT_TYPES;
#endif
    ReplacedDictionaries *replaced = PyMem_RawCalloc(1, sizeof(ReplacedDictionaries) + capacity * sizeof(PyObject *));
    if (!replaced) return NULL;
    for (size_t i = 0; i < PYL_STATIC_BUILTIN_COUNT(interp) && i < PYL_STATIC_BUILTIN_COUNT(root); i++) {
        __typeof__(PYL_STATIC_BUILTIN_STATE(interp, i)) own = PYL_STATIC_BUILTIN_STATE(interp, i);
        __typeof__(own) roots = PYL_STATIC_BUILTIN_STATE(root, i);
        if (own->type != roots->type || !own->tp_dict || !roots->tp_dict || own->tp_dict == roots->tp_dict) continue;
        replaced->dicts[replaced->count++] = own->tp_dict;
        own->tp_dict = Py_NewRef(roots->tp_dict);
    }
#if PY_VERSION_HEX >= 0x030D0000
    for (size_t i = 0; i < _Py_MAX_MANAGED_STATIC_EXT_TYPES; i++) {
        managed_static_type_state *own = &interp->types.for_extensions.initialized[i];
        managed_static_type_state *roots = &root->types.for_extensions.initialized[i];
        if (!own->type || own->type != roots->type || !own->tp_dict || !roots->tp_dict
            || own->tp_dict == roots->tp_dict) continue;
        replaced->dicts[replaced->count++] = own->tp_dict;
        own->tp_dict = Py_NewRef(roots->tp_dict);
    }
#endif
    // Cached lookups keyed by type version: start over with the shared dictionaries.
    PyType_ClearCache();
    // What the interpreter looked up in its own dictionaries while it started and later
    // compares by identity with what it finds: point them at the shared dictionaries' entries
    // (borrowed, as CPython keeps them; the root's dictionaries live as long as the process).
    // Else object.__reduce_ex__ takes object.__reduce__ for an override and reduces by
    // protocol 0 (copy.deepcopy and pickle of a __slots__ class fail: sqlparse's
    // test_copy_issue672), and the specializer never recognises list.append or
    // object.__getattribute__.
    PyObject *objreduce = PyObject_GetAttrString((PyObject *)&PyBaseObject_Type, "__reduce__");
    PyObject *listAppend = PyObject_GetAttrString((PyObject *)&PyList_Type, "append");
    PyObject *getattribute = PyObject_GetAttrString((PyObject *)&PyBaseObject_Type, "__getattribute__");
    if (objreduce && listAppend && getattribute) {
        interp->cached_objects.objreduce = objreduce;
        interp->callable_cache.list_append = listAppend;
        interp->callable_cache.object__getattribute__ = getattribute;
    } else {
        PyErr_Clear();
    }
    Py_XDECREF(objreduce);
    Py_XDECREF(listAppend);
    Py_XDECREF(getattribute);
    return replaced;
#else
    (void)interp; (void)root;
    static ReplacedDictionaries none = {0};
    return &none;
#endif
}

void pyl_ReleaseReplacedDictionaries(void *holder) {
#if PY_VERSION_HEX >= 0x030C0000
    ReplacedDictionaries *replaced = holder;
    if (!replaced) return;
    for (Py_ssize_t i = 0; i < replaced->count; i++) Py_DECREF(replaced->dicts[i]);
    PyMem_RawFree(replaced);
#else
    (void)holder;
#endif
}

// MARK: fork()
//
// The rules are in Forking.swift; this is the part that must run inside fork() itself.

static pyl_ForkCheck fork_check = NULL;
static pyl_ForkHandler fork_prepare = NULL, fork_parent = NULL, fork_child = NULL;
#if PYL_HOLD_HEAD_LOCK_ACROSS_FORK
static int head_lock_taken = 0;
#endif

static void rearm_unraisable_interrupt(PyObject *args);

// PyLoader's audit hook, in every interpreter of the process: it refuses a fork that would
// hang or abort (Forking.swift) and re-arms a Ctrl-C written off as unraisable (Interrupts
// section). Audit events are raised for every open(), import, exec...: compare cheaply first.
static int process_audit_hook(const char *event, PyObject *args, void *data) {
    (void)data;
    if (event[0] == 's' && strcmp(event, "sys.unraisablehook") == 0) {
        rearm_unraisable_interrupt(args);
        return 0;
    }
    if (event[0] != 'o' || strncmp(event, "os.fork", 7) != 0) return 0;
    if (strcmp(event, "os.fork") != 0 && strcmp(event, "os.forkpty") != 0) return 0;
    return fork_check ? fork_check() : 0;
}

static void atfork_prepare(void) {
    if (fork_prepare) fork_prepare();
#if PYL_HOLD_HEAD_LOCK_ACROSS_FORK
    // CPython 3.11.2's PyOS_AfterFork_Child takes HEAD_LOCK (in _PyThreadState_DeleteExcept)
    // before it re-initializes that lock (gh-112275): a fork while another thread held it
    // (PyThreadState_New, which PyLoader calls without the GIL) left the child waiting forever.
    if (_PyRuntime.initialized && _PyRuntime.interpreters.mutex) {
        PyThread_acquire_lock(_PyRuntime.interpreters.mutex, WAIT_LOCK);
        head_lock_taken = 1;
    }
#endif
}

static void atfork_parent(void) {
#if PYL_HOLD_HEAD_LOCK_ACROSS_FORK
    if (head_lock_taken) {
        head_lock_taken = 0;
        PyThread_release_lock(_PyRuntime.interpreters.mutex);
    }
#endif
    if (fork_parent) fork_parent();
}

// CPython's _PyInterpreterState_DeleteExceptMain (3.11 to 3.13) clears each sub-interpreter
// while holding HEAD_LOCK, and PyInterpreterState_Clear takes HEAD_LOCK again: the forked
// process deadlocked as soon as any sub-interpreter existed (gh-84139). The forked process
// keeps only the main interpreter: unlinking the others here leaves their memory to the copy
// of the address space, untouched (nothing of theirs can run). The child has one thread, so
// the list may be written without its lock (3.12+ re-initialize the lock afterwards).
static void unlink_sub_interpreters(void) {
    PyInterpreterState *main_interp = _PyRuntime.interpreters.main;
    if (main_interp) {
        _PyRuntime.interpreters.head = main_interp;
        main_interp->next = NULL;
    }
}

static void reset_terminate_handlers(void);

static void atfork_child(void) {
    reset_terminate_handlers();
#if PYL_HOLD_HEAD_LOCK_ACROSS_FORK
    if (head_lock_taken) {
        head_lock_taken = 0;
        unlink_sub_interpreters();
        PyThread_release_lock(_PyRuntime.interpreters.mutex);
    }
#else
    if (_PyRuntime.initialized) unlink_sub_interpreters();
#endif
    if (fork_child) fork_child();
}

void pyl_SetForkHandlers(pyl_ForkCheck check, pyl_ForkHandler prepare, pyl_ForkHandler parent,
                         pyl_ForkHandler child) {
    fork_check = check;
    fork_prepare = prepare;
    fork_parent = parent;
    fork_child = child;
    static int registered = 0;
    if (!registered) {
        registered = 1;
        pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    }
}

void pyl_DisarmImportHookAfterFork(PyObject *hook) {
    HookState *st = hook_state(hook);
    if (!st) return;
    // Only pointers: the interpreter was left behind, so no reference count is touched.
    st->interp = NULL;
    st->owner = NULL;
}

// MARK: Interrupts (SIGINT and friends for the command line; the rules are in Interrupts.swift)

static volatile sig_atomic_t interrupt_pending = 0;
static volatile sig_atomic_t terminate_signal = 0;
static sem_t signal_wakeup;
static pthread_t interrupt_main_thread;
static struct sigaction chained_sigint;

static int interrupts_installed = 0;
static volatile sig_atomic_t defer_first_interrupt = 0;
static volatile sig_atomic_t stop_requested = 0;

// An interrupt written off as unraisable waits until the code that wrote it off has
// returned (rearm_unraisable_interrupt): the main thread's state then, and its Python depth.
static PyThreadState *rearm_tstate = NULL;
static int rearm_depth = 0;

static void on_sigint(int sig) {
    int saved = errno;
    if (!pthread_equal(pthread_self(), interrupt_main_thread)) {
        // Only the main thread runs Python's signal handlers and pending calls, and only its
        // blocking call (time.sleep, input) must return EINTR: hand the signal to it.
        pthread_kill(interrupt_main_thread, sig);
        errno = saved;
        return;
    }
    if (defer_first_interrupt && !stop_requested) {
        stop_requested = 1;   // a graceful stop: the test runner finishes the current test
        errno = saved;
        return;
    }
    interrupt_pending = 1;
    // CPython's own handler (installed in the root by signal.signal): marks the signal for
    // the main interpreter, whose handler (pyl_InterruptHandler) raises KeyboardInterrupt.
    if (chained_sigint.sa_handler != SIG_DFL && chained_sigint.sa_handler != SIG_IGN) {
        chained_sigint.sa_handler(sig);
    }
    sem_post(&signal_wakeup);
    errno = saved;
}

static void on_terminate(int sig) {
    terminate_signal = sig;
    sem_post(&signal_wakeup);
}

// In a forked process no watcher thread runs (threads do not survive fork()): PyLoader's
// SIGTERM/SIGHUP handler would only post to nobody, and the process would ignore them
// (multiprocessing's Pool.terminate() then waited for its fork workers forever). The
// forked process gets the default action back, as a python3 fork has; a handler the
// program installed itself (signal.signal) is left alone.
static void reset_terminate_handlers(void) {
    const int signals[] = {SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        struct sigaction current;
        if (sigaction(signals[i], NULL, &current) == 0 && current.sa_handler == on_terminate) {
            signal(signals[i], SIG_DFL);
        }
    }
}

int pyl_InstallInterruptHandlers(void) {
    if (sem_init(&signal_wakeup, 0, 0) != 0) return -1;
    interrupt_main_thread = pthread_self();
    struct sigaction action;
    memset(&action, 0, sizeof action);
    sigemptyset(&action.sa_mask);
    action.sa_handler = on_sigint;
    if (sigaction(SIGINT, &action, &chained_sigint) != 0) return -1;
    action.sa_handler = on_terminate;
    if (sigaction(SIGTERM, &action, NULL) != 0 || sigaction(SIGHUP, &action, NULL) != 0) return -1;
    interrupts_installed = 1;
    return 0;
}

int pyl_WaitForSignal(void) {
    while (sem_wait(&signal_wakeup) != 0) {
        if (errno != EINTR) return -1;
    }
    return terminate_signal ? (int)terminate_signal : SIGINT;
}

int pyl_InterruptPending(void) { return interrupt_pending; }

// A KeyboardInterrupt the main thread is about to lose is delivered again, at its next
// bytecode: what on_sigint does for a new SIGINT (pending again, the root's handler tripped
// through PyErr_SetInterruptEx, CPython's trip_signal; the watcher woken to schedule it in
// every child). Only the main thread's: a KeyboardInterrupt another thread raised itself is
// not a Ctrl-C.
static void rearm_interrupt(void) {
    if (!interrupts_installed || !pthread_equal(pthread_self(), interrupt_main_thread)) return;
    interrupt_pending = 1;
    PyErr_SetInterruptEx(SIGINT);
    sem_post(&signal_wakeup);
}

void pyl_ClearErrorKeepingInterrupt(void) {
    if (PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) rearm_interrupt();
    PyErr_Clear();
}

// The "sys.unraisablehook" audit event (args: the hook, an UnraisableHookArgs whose first
// field is exc_type), raised whichever hook is installed. A Ctrl-C lands at whichever
// bytecode the main thread runs, and when that is a weakref callback, a __del__ or a GC
// callback, CPython can only print "Exception ignored in: ..." and carry on: importlib's
// module-lock callback (_get_module_lock's cb), which runs on every import, lost one under
// `pyloader test` (python3 loses it the same way). It is delivered again after the callback.
static void rearm_unraisable_interrupt(PyObject *args) {
    if (!interrupts_installed || !PyTuple_Check(args) || PyTuple_GET_SIZE(args) < 2) return;
    PyObject *unraisable = PyTuple_GET_ITEM(args, 1);
    if (!PyTuple_Check(unraisable) || PyTuple_GET_SIZE(unraisable) < 1) return;
    PyObject *type = PyTuple_GET_ITEM(unraisable, 0);
    if (!PyType_Check(type) || !PyType_IsSubtype((PyTypeObject *)type, (PyTypeObject *)PyExc_KeyboardInterrupt)) return;
    if (!pthread_equal(pthread_self(), interrupt_main_thread)) return;
    // Not through the root's signal handler, as rearm_interrupt does: the hook that is about
    // to report this one writes to sys.stderr, whose C code checks signals, and would take
    // it and write it off too. A pending call runs only at a bytecode, and waits there while
    // a hook written in Python runs (raise_pending_interrupt).
    PyThreadState *tstate = PyThreadState_Get();
    rearm_tstate = tstate;
    rearm_depth = python_depth(tstate);
    interrupt_pending = 1;
    (void)pyl_ScheduleInterrupt(tstate->interp);
}

void pyl_SetDeferFirstInterrupt(int defer) { defer_first_interrupt = defer; }
int pyl_DefersFirstInterrupt(void) { return defer_first_interrupt; }
int pyl_StopRequested(void) { return stop_requested; }

// A pending call (run by the main thread only, in whichever interpreter it is running):
// raises KeyboardInterrupt there if the interrupt was not delivered yet.
static int raise_pending_interrupt(void *arg) {
    if (!interrupt_pending) return 0;
    PyThreadState *tstate = _PyThreadState_UncheckedGet();
#if PYL_PENDING_CALLS_ON_ANY_THREAD
    if (!pthread_equal(pthread_self(), interrupt_main_thread)) {
        // Another thread of the interpreter ran it: KeyboardInterrupt is the main thread's.
        if (tstate) add_pending_call(tstate->interp, raise_pending_interrupt, arg);
        return 0;
    }
#endif
    if (rearm_tstate != NULL) {
        if (tstate == rearm_tstate && python_depth(tstate) > rearm_depth) {
            // Still in the sys.unraisablehook that is reporting the last one (a hook written
            // in Python, pytest's): raised there, it would be written off again. After it.
            add_pending_call(tstate->interp, raise_pending_interrupt, arg);
            return 0;
        }
        rearm_tstate = NULL;
    }
    interrupt_pending = 0;
    PyErr_SetNone(PyExc_KeyboardInterrupt);
    return -1;
}

int pyl_ScheduleInterrupt(PyInterpreterState *interp) {
    if (add_pending_call(interp, raise_pending_interrupt, NULL) != 0) return -1;
#if !PYL_PENDING_CALLS_ON_ANY_THREAD
    // 3.11 sets the interpreter's eval breaker for a pending call only when the thread that
    // adds it could run it (the main thread); added from the watcher, it waited for the main
    // thread's next GIL switch, so a busy loop in a child ran on to its end. Setting it here
    // makes the eval loop look at the pending calls at its next check: the main thread runs
    // ours and recomputes the breaker; another thread of that interpreter finds nothing it
    // may run, at the cost of a few extra checks until its next GIL switch recomputes it.
    _Py_atomic_store_relaxed(&interp->ceval.eval_breaker, 1);
#endif
    return 0;
}

// 3.11 keeps a request to drop the GIL per interpreter, and a thread waiting for the GIL
// sets it on its own interpreter: a thread busy in another interpreter never sees it and
// holds the GIL until it blocks or ends (a pure-Python loop in a child kept the interrupt
// watcher, and with it Ctrl-C, waiting for as long as the loop ran). The watcher asks every
// interpreter, under the runtime's lock of the interpreter list (no interpreter is freed
// meanwhile), and withdraws the requests once it holds the GIL, so that none is left for a
// thread that runs later (it would drop the GIL and wait for a taker that may never come).
// 3.12 and later send the request to the thread that holds the GIL.
#if PY_VERSION_HEX < 0x030C0000
static void request_gil_from_every_interpreter(void) {
    PyThread_acquire_lock(_PyRuntime.interpreters.mutex, WAIT_LOCK);
    for (PyInterpreterState *interp = _PyRuntime.interpreters.head; interp; interp = interp->next) {
        _Py_atomic_store_relaxed(&interp->ceval.gil_drop_request, 1);
        _Py_atomic_store_relaxed(&interp->ceval.eval_breaker, 1);
    }
    PyThread_release_lock(_PyRuntime.interpreters.mutex);
}

// One request is not enough when a third thread wants the GIL too (a Python thread that
// wakes every few milliseconds): the busy thread hands the GIL to it, takes it back, and
// taking it resets its interpreter's request; the watcher then waits for as long as the busy
// loop runs. So a helper asks again every 2 ms until the watcher holds the GIL. `asking` is
// read and the requests made under `asking_lock`, so that none is made after the withdrawal
// (a request nobody takes makes the holder wait for a switch that never comes).
static pthread_mutex_t asking_lock = PTHREAD_MUTEX_INITIALIZER;
static int asking = 0;

static void *keep_requesting_gil(void *unused) {
    (void)unused;
    for (;;) {
        pthread_mutex_lock(&asking_lock);
        int go_on = asking;
        if (go_on) request_gil_from_every_interpreter();
        pthread_mutex_unlock(&asking_lock);
        if (!go_on) return NULL;
        usleep(2000);
    }
}
#endif

void pyl_RequestGILFromEveryInterpreter(void) {
#if PY_VERSION_HEX < 0x030C0000
    request_gil_from_every_interpreter();
    pthread_mutex_lock(&asking_lock);
    int started = asking;
    asking = 1;
    pthread_mutex_unlock(&asking_lock);
    if (!started) {
        pthread_t helper;
        if (pthread_create(&helper, NULL, keep_requesting_gil, NULL) == 0) {
            pthread_detach(helper);
        } else {
            pthread_mutex_lock(&asking_lock);
            asking = 0;   // the first request stands alone
            pthread_mutex_unlock(&asking_lock);
        }
    }
#endif
}

void pyl_WithdrawGILRequests(void) {
#if PY_VERSION_HEX < 0x030C0000
    pthread_mutex_lock(&asking_lock);
    asking = 0;
    pthread_mutex_unlock(&asking_lock);
    PyThread_acquire_lock(_PyRuntime.interpreters.mutex, WAIT_LOCK);
    for (PyInterpreterState *interp = _PyRuntime.interpreters.head; interp; interp = interp->next) {
        _Py_atomic_store_relaxed(&interp->ceval.gil_drop_request, 0);
    }
    PyThread_release_lock(_PyRuntime.interpreters.mutex);
#endif
}

// The root's Python-level SIGINT handler (CPython calls it in the main thread of the main
// interpreter, also inside time.sleep and input): KeyboardInterrupt unless a child loader
// already raised it.
static PyObject *interrupt_handler(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self; (void)args; (void)nargs;
    if (!interrupt_pending) Py_RETURN_NONE;
    interrupt_pending = 0;
    PyErr_SetNone(PyExc_KeyboardInterrupt);
    return NULL;
}

static PyMethodDef interrupt_handler_def = {
    "_pyloader_sigint", (PyCFunction)(void (*)(void))interrupt_handler, METH_FASTCALL,
    "PyLoader's SIGINT handler in the root: raises KeyboardInterrupt."
};

PyObject *pyl_MakeInterruptHandler(void) { return PyCFunction_NewEx(&interrupt_handler_def, NULL, NULL); }

// MARK: Runtime start-up (the configuration is Swift's: Runtime.startCPython)

int pyl_AddAuditHook(void) { return PySys_AddAuditHook(process_audit_hook, NULL) < 0 ? -1 : 0; }

// MARK: The `_pyloader` and `pyloader` modules

static PyModuleDef_Slot core_slots[] = {
    {Py_mod_exec, NULL},
    {0, NULL},
};

static PyModuleDef core_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_pyloader",
    .m_doc = "PyLoader's core in this interpreter: the import machinery and what the pyloader API calls (internal).",
    .m_size = 0,
    .m_methods = NULL,
    .m_slots = core_slots,
};

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

void pyl_SetPyloaderModules(PyMethodDef *coreMethods, pyl_ModuleExec coreExec, pyl_ModuleExec apiExec) {
    core_def.m_methods = coreMethods;
    core_slots[0].value = (void *)coreExec;
    pyloader_slots[0].value = (void *)apiExec;
}

PyObject *pyl_CoreModuleInit(void) { return PyModuleDef_Init(&core_def); }

PyObject *pyl_PyloaderModuleInit(void) { return PyModuleDef_Init(&pyloader_def); }
