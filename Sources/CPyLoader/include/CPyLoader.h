// The C side of PyLoader: only what Swift cannot express (object-like and
// function-like macros, C globals under Swift 6's checker, thread-locals) plus
// the hot-path import hook. No policy lives here.
#ifndef CPYLOADER_H
#define CPYLOADER_H

#include <sys/select.h>   // before Python.h: see Sources/CPython/shim.h
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

// MARK: Singletons and exception types (C globals: macros or globals Swift cannot reach)

static inline PyObject *pyl_None(void) { return Py_None; }
static inline PyObject *pyl_True(void) { return Py_True; }
static inline PyObject *pyl_False(void) { return Py_False; }

static inline PyObject *pyl_ExcBaseException(void) { return PyExc_BaseException; }
static inline PyObject *pyl_ExcRuntimeError(void) { return PyExc_RuntimeError; }
static inline PyObject *pyl_ExcImportError(void) { return PyExc_ImportError; }
static inline PyObject *pyl_ExcModuleNotFoundError(void) { return PyExc_ModuleNotFoundError; }
static inline PyObject *pyl_ExcTypeError(void) { return PyExc_TypeError; }
static inline PyObject *pyl_ExcValueError(void) { return PyExc_ValueError; }
static inline PyObject *pyl_ExcSystemExit(void) { return PyExc_SystemExit; }
static inline PyObject *pyl_ExcSystemError(void) { return PyExc_SystemError; }
static inline PyObject *pyl_ExcKeyboardInterrupt(void) { return PyExc_KeyboardInterrupt; }

// MARK: Type checks (function-like macros)

static inline int pyl_IsLong(PyObject *o) { return PyLong_Check(o); }
static inline int pyl_IsBool(PyObject *o) { return PyBool_Check(o); }
static inline int pyl_IsFloat(PyObject *o) { return PyFloat_Check(o); }
static inline int pyl_IsUnicode(PyObject *o) { return PyUnicode_Check(o); }
static inline int pyl_IsList(PyObject *o) { return PyList_Check(o); }
static inline int pyl_IsListExact(PyObject *o) { return PyList_CheckExact(o); }
static inline int pyl_IsTuple(PyObject *o) { return PyTuple_Check(o); }
static inline int pyl_IsDict(PyObject *o) { return PyDict_Check(o); }
static inline int pyl_IsModule(PyObject *o) { return PyModule_Check(o); }
static inline int pyl_IsFunction(PyObject *o) { return PyFunction_Check(o); }
static inline int pyl_IsType(PyObject *o) { return PyType_Check(o); }
/// A function's globals dict (borrowed).
static inline PyObject *pyl_FunctionGlobals(PyObject *f) { return PyFunction_GET_GLOBALS(f); }
static inline PyTypeObject *pyl_TypeOf(PyObject *o) { return Py_TYPE(o); }

// MARK: Calls (variadic or macro APIs, in fixed-arity form)

/// `obj.name()`. PyObject_CallMethod is variadic.
static inline PyObject *pyl_CallMethod0(PyObject *obj, const char *name) {
    return PyObject_CallMethod(obj, name, NULL);
}

// MARK: Thread states

/// The thread state this thread has current, or NULL. Unlike PyThreadState_Get it
/// does not abort when there is none (3.11: `_PyThreadState_UncheckedGet`).
/// Only meaningful while this thread holds the GIL: in 3.11 the "current" thread
/// state is one process-wide slot owned by whichever thread holds the GIL.
static inline PyThreadState *pyl_CurrentThreadState(void) { return _PyThreadState_UncheckedGet(); }

/// The recursion a thread state has left, carried across a crossing between loaders
/// (Activation.swift). Version seam (thread states): 3.11 counts one
/// `recursion_remaining`; 3.12 (gh-91079) split it into a Python counter and a C counter;
/// 3.14 (gh-130396) checks the C stack by its address instead and dropped the C counter,
/// and the stack is the thread's, so it needs no carrying.
typedef struct { int python; int c; } pyl_RecursionBudget;

static inline pyl_RecursionBudget pyl_RecursionBudgetOf(PyThreadState *t) {
    pyl_RecursionBudget budget;
#if PY_VERSION_HEX >= 0x030E0000
    budget.python = t->py_recursion_remaining; budget.c = 0;
#elif PY_VERSION_HEX >= 0x030C0000
    budget.python = t->py_recursion_remaining; budget.c = t->c_recursion_remaining;
#else
    budget.python = t->recursion_remaining; budget.c = 0;
#endif
    return budget;
}

/// Sets the counter that guards the C stack, the only one a crossing carries:
/// - 3.11: the one counter, which guards both the C stack and Python's depth;
/// - 3.12, 3.13: the C counter. The Python counter is not carried: Python-to-Python calls
///   use no C stack there, so the loader entered counts its own Python depth, as a fresh
///   interpreter would (`sys.setrecursionlimit(100)` in a child called from deep code works
///   as under `python`);
/// - 3.14+: none (the C stack is checked by its address).
static inline void pyl_RestoreRecursionBudget(PyThreadState *t, pyl_RecursionBudget budget) {
#if PY_VERSION_HEX >= 0x030E0000
    (void)t; (void)budget;
#elif PY_VERSION_HEX >= 0x030C0000
    t->c_recursion_remaining = budget.c;
#else
    t->recursion_remaining = budget.python;
#endif
}

/// Whether `t` has a Python frame running (below a C call that released the GIL, say). Reads
/// the frame pointer: PyThreadState_GetFrame would make a frame object, in the current
/// thread state's interpreter, for a frame of `t`'s. Version seam (thread states): 3.11 and
/// 3.12 keep it in `cframe`, 3.13+ in the thread state itself.
static inline int pyl_RunsPython(PyThreadState *t) {
#if PY_VERSION_HEX >= 0x030D0000
    return t->current_frame != NULL;
#else
    return t->cframe != NULL && t->cframe->current_frame != NULL;
#endif
}

/// Gives `t` at most what `caller` has left of the counter that guards the C stack, less
/// `cost` (`pyl_RestoreRecursionBudget` says which), and returns `t`'s own budget for
/// `pyl_RestoreRecursionBudget` on the way out. Never less than 0: the first call in `t`
/// then raises RecursionError; a counter far below 0 makes CPython abort instead ("Cannot
/// recover from stack overflow", once it is handling a RecursionError 50 levels below).
static inline pyl_RecursionBudget pyl_InheritRecursionBudget(PyThreadState *t, PyThreadState *caller, int cost) {
    pyl_RecursionBudget own = pyl_RecursionBudgetOf(t), from = pyl_RecursionBudgetOf(caller), inherited;
    int python = from.python - cost > 0 ? from.python - cost : 0, c = from.c - cost > 0 ? from.c - cost : 0;
    inherited.python = own.python < python ? own.python : python;
    inherited.c = own.c < c ? own.c : c;
    pyl_RestoreRecursionBudget(t, inherited);
    return own;
}

/// The per-OS-thread pointer to PyLoader's Swift-side thread record (an
/// unmanaged object). Swift has no cheap thread-locals; C11 `_Thread_local` does.
void *pyl_GetThreadRecord(void);
void pyl_SetThreadRecord(void *record);

// MARK: The import hook (Eby's hook)

/// Called by the hook when the import must run in another loader than the one
/// whose thread state is current: `owner` is the opaque token the hook was made
/// with (or the context loader's). Returns a new reference, or NULL with an
/// exception set in the *calling* thread state.
typedef PyObject *(*pyl_CrossImport)(void *owner, PyObject *name, PyObject *globals,
                                     PyObject *locals, PyObject *fromlist, int level);

/// Installs the callback used for crossing imports. Call once, before any hook exists.
void pyl_SetCrossImport(pyl_CrossImport callback);

/// The delegated-import fast path (Resolver.handOver): a module the defining loader already
/// holds, put into the current (child's) sys.modules, as a new reference; NULL without an
/// exception to let importlib's own _find_and_load run; NULL with one to fail the import.
typedef PyObject *(*pyl_HandOver)(void *owner, PyObject *name);
void pyl_SetHandOver(pyl_HandOver callback);

/// Wraps `_frozen_importlib._find_and_load` of the current interpreter (a child's) with the
/// fast path above, bound to the loader of `hook`. Returns 0, or -1 with an exception set.
/// PRECONDITION: the GIL is held and the hook's interpreter is current.
int pyl_WrapFindAndLoad(PyObject *hook);

/// Called by the `_gcd_import` wrapper (`importlib.import_module`) while the thread has a
/// context loader (`target`, its token; `owner` is the wrapper's own loader): the lookup
/// imported in the context loader when the context rule says it serves it (the module), NULL
/// without an exception when it does not, NULL with one on failure. Arguments as
/// `_gcd_import(name, package=None, level=0)` received them.
typedef PyObject *(*pyl_ContextImport)(void *target, void *owner, PyObject *const *args, Py_ssize_t nargs,
                                       PyObject *kwnames);
void pyl_SetContextImport(pyl_ContextImport callback);

/// Called by the `_gcd_import` wrapper when its owner is not the current loader: calls
/// `callable` (the owner's own `_gcd_import`) in the loader `owner`, moving the result or
/// the exception to the calling thread state.
typedef PyObject *(*pyl_CrossCall)(void *owner, PyObject *callable, PyObject *const *args,
                                   Py_ssize_t nargs, PyObject *kwnames);
void pyl_SetCrossCall(pyl_CrossCall callback);

/// Wraps `_frozen_importlib._gcd_import` of the current interpreter (what
/// `importlib.import_module` calls) with the context rule's lookup by name, bound to the
/// loader of `hook`. Returns 0, or -1 with an exception set.
/// PRECONDITION: the GIL is held and the hook's interpreter is current.
int pyl_WrapImportModule(PyObject *hook);

/// Wraps `builtins.__build_class__` of the current interpreter so that every class a class
/// statement makes there is recorded (weakly) as defined by the loader of `hook`.
/// Returns 0, or -1 with an exception set. PRECONDITION: the hook's interpreter is current.
int pyl_WrapBuildClass(PyObject *hook);

/// A new sub-interpreter, its thread state current (and, with `ownGIL`, holding its new GIL
/// while the caller's thread state is detached; 3.12+ only), or NULL with `error` filled.
/// PRECONDITION: the caller's thread state is current with its GIL held.
PyThreadState *pyl_NewInterpreter(int ownGIL, char *error, size_t errorSize);

/// 3.12+: the loader numbered `loaderNumber` takes its heap-type versions from a range of
/// its own, and its classes made so far are renumbered (see CPyLoader.c). No-op on 3.11.
/// PRECONDITION: the GIL is held and `interp` is current. -1 with an exception set on error.
int pyl_GiveTypeVersionRange(PyInterpreterState *interp, unsigned int loaderNumber);

/// 3.12+: `interp` uses `root`'s dictionaries of static types from now on. Returns what
/// it replaced, for `pyl_ReleaseReplacedDictionaries` once `interp` has ended; NULL when
/// out of memory. PRECONDITION: the GIL is held and `interp` is current.
void *pyl_ShareStaticTypeDictionaries(PyInterpreterState *interp, PyInterpreterState *root);
void pyl_ReleaseReplacedDictionaries(void *replaced);

/// PY_VERSION_HEX of the CPython headers this target was compiled against.
int pyl_PythonVersionHex(void);

/// The file of the libpython this process linked (dladdr), or NULL.
const char *pyl_LinkedLibraryPath(void);

/// An interpreter's `sys.modules` dict (borrowed). PRECONDITION: the GIL is held.
PyObject *pyl_InterpreterModules(PyInterpreterState *interp);

/// `module.qualname` of a module, class or function, read from C fields and dicts only (no
/// Python code runs). Valid until the next call. PRECONDITION: the GIL is held.
const char *pyl_QualifiedName(PyObject *o);

/// The builtins dict a globals dict runs with (`__builtins__`, a module's dict taken for
/// the module), borrowed, or NULL. PRECONDITION: the GIL is held; `globals` is a dict.
PyObject *pyl_GlobalsBuiltins(PyObject *globals);

/// Called by pyl_ScanNamespace for each candidate (a module, a function, a class made at run time or an instance of one): `name` is the
/// global's name; `innerKey` the dict key or `index` the list/tuple index (-1 when neither).
typedef void (*pyl_LeakVisit)(void *context, PyObject *name, PyObject *innerKey, Py_ssize_t index, PyObject *value);

/// The leak scan's inner loop over one module's globals and one level into the dicts,
/// lists and tuples among them (at most `limit` items each), dunder names skipped: calls
/// `visit` for every value that could belong to a loader. Runs no Python code.
void pyl_ScanNamespace(PyObject *globals, Py_ssize_t limit, pyl_LeakVisit visit, void *context);

/// Whether `o` is a class made at run time (not a static type of CPython or an extension).
int pyl_IsHeapType(PyObject *o);

/// Whether `o` is a module, function, method, property, classmethod, staticmethod or
/// functools.partial: an object whose defining loader is that of the code it holds.
int pyl_IsCodeHolder(PyObject *o);

/// Whether `cls` was made by a class statement of the loader of `hook`. PRECONDITION: the GIL is held.
int pyl_HookDefinedClass(PyObject *hook, PyObject *cls);

/// The current interpreter's own `_gcd_import` (unwrapped), for PyLoader's own imports,
/// which ignore the context loader. Returns a new reference, or NULL with an exception set.
PyObject *pyl_OriginalImportModule(void);

/// Makes the `__import__` replacement bound to the loader of `interp`; `owner` is
/// an opaque token handed back to the cross-import callback. Returns a new reference.
/// PRECONDITION: the GIL is held and `interp`'s thread state is current.
PyObject *pyl_MakeImportHook(PyInterpreterState *interp, void *owner, const char *loaderName);

/// Installs `hook` as `builtins.__import__` of the current interpreter and as its
/// fast-path import function, so an import that does not cross a loader boundary
/// takes CPython's own fast path (3.11 `import_name` compares the frame's
/// `__import__` with `interp->import_func`). Returns 0, or -1 with an exception set.
int pyl_InstallImportHook(PyObject *hook);

/// Puts the interpreter's own `__import__` back (for measuring the hook's cost).
/// `pyl_InstallImportHook(hook)` installs it again. Returns 0, or -1 with an exception set.
int pyl_UninstallImportHook(PyObject *hook);

/// Disarms a hook whose loader is closing: later calls raise ImportError naming
/// the loader instead of touching a freed interpreter.
void pyl_DisarmImportHook(PyObject *hook);

/// A stand-in `__import__` for a closed loader, made in whatever interpreter is
/// current: every call raises ImportError naming `loaderName`. Returns a new reference.
PyObject *pyl_MakeClosedImportStub(const char *loaderName);

/// The thread's context loader (Java's context class loader), as the token the
/// context-import callback receives, or NULL.
void pyl_SetContextLoader(void *owner);



// MARK: The `_pyloader` and `pyloader` modules

/// The exec slot of a multi-phase module (one instance per interpreter).
typedef int (*pyl_ModuleExec)(PyObject *module);

/// Gives the module definitions their functions and exec slots (PyModuleDef_HEAD_INIT is
/// a macro Swift cannot use): `_pyloader`, the core every loader loads when it is made
/// (the `_core_*` functions, the import machinery), and `pyloader`, the public API, loaded
/// on its first import. Call once, before CPython starts.
void pyl_SetPyloaderModules(PyMethodDef *coreMethods, pyl_ModuleExec coreExec, pyl_ModuleExec apiExec);

/// The inittab entries for `_pyloader` and `pyloader`.
PyObject *pyl_CoreModuleInit(void);
PyObject *pyl_PyloaderModuleInit(void);

// MARK: fork()

/// Called for the audit events `os.fork` and `os.forkpty` (raised before CPython forks):
/// returns 0 to let the fork go ahead, or -1 with an exception set to refuse it.
typedef int (*pyl_ForkCheck)(void);
typedef void (*pyl_ForkHandler)(void);

/// Sets the fork check and the `pthread_atfork` handlers (registered once). `prepare` runs
/// before PyLoader's C part takes CPython's interpreter-list lock, `parent` and `child`
/// after it released it; `child` runs before CPython's own after-fork code.
void pyl_SetForkHandlers(pyl_ForkCheck check, pyl_ForkHandler prepare, pyl_ForkHandler parent,
                         pyl_ForkHandler child);

/// In a forked process: disarms a hook of an interpreter that was left behind, without
/// touching any Python object (its calls raise ImportError naming the loader).
void pyl_DisarmImportHookAfterFork(PyObject *hook);

// MARK: Interrupts (Interrupts.swift)

/// Installs PyLoader's SIGINT, SIGTERM and SIGHUP handlers, chaining SIGINT to the handler
/// in place (CPython's, installed in the root by signal.signal first). Call on the main
/// thread. Returns 0, or -1 with errno set.
int pyl_InstallInterruptHandlers(void);

/// Blocks until a handled signal arrives; returns SIGINT, SIGTERM or SIGHUP (-1 on error).
int pyl_WaitForSignal(void);

/// Whether a SIGINT has not been turned into a KeyboardInterrupt yet.
int pyl_InterruptPending(void);

/// Clears the error indicator, as PyErr_Clear, for PyLoader's best-effort calls into Python
/// code (their failure only means "no answer"). A KeyboardInterrupt in it is delivered again,
/// as a new Ctrl-C would be, when PyLoader handles signals: such a call must not eat one (a
/// Ctrl-C lands at whichever bytecode the main thread runs, ours included).
/// PRECONDITION: the GIL is held.
void pyl_ClearErrorKeepingInterrupt(void);

/// While set, the first SIGINT only requests a stop (pyl_StopRequested); later ones interrupt.
void pyl_SetDeferFirstInterrupt(int defer);
int pyl_DefersFirstInterrupt(void);
int pyl_StopRequested(void);

/// Asks `interp` to raise KeyboardInterrupt in the main thread's code the next time that
/// thread runs Python code there, if the interrupt is still pending then. Returns 0, or -1
/// when the interpreter's queue is full. PRECONDITION: the GIL is held; `interp` is alive.
int pyl_ScheduleInterrupt(PyInterpreterState *interp);

/// 3.11: asks the thread that holds the GIL, in whichever interpreter, to let it go (a
/// waiter's request reaches only its own interpreter there), and keeps asking every 2 ms
/// until `pyl_WithdrawGILRequests`: a third thread that takes the GIL first resets the
/// request of the interpreter it gives it back to. Call without the GIL, right before
/// taking it; call `pyl_WithdrawGILRequests` once it is held. No-ops on 3.12+.
void pyl_RequestGILFromEveryInterpreter(void);
void pyl_WithdrawGILRequests(void);

/// The root's Python-level SIGINT handler (for signal.signal). Returns a new reference.
PyObject *pyl_MakeInterruptHandler(void);

// MARK: Runtime start-up

/// Adds PyLoader's audit hook: it refuses a fork that would hang or abort (Forking.swift)
/// and, once the interrupt handlers are installed, delivers again a Ctrl-C that CPython
/// wrote off as unraisable (Interrupts.swift). C because it runs for every audit event.
/// Returns 0, or -1. PRECONDITION: before Py_Initialize.
int pyl_AddAuditHook(void);

#endif
