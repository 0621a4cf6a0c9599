import CPython
import CPyLoader

/// Runs a program as an interpreter's `__main__`, the way `python` does, and
/// turns its end into an exit status. PRECONDITION for all: activated in the loader.
enum MainProgram {
    /// What to run: a script file, source text (`-c`), or a module (`-m`).
    enum Program {
        case script(path: String)
        case code(String)
        case module(String)
        /// The program read from standard input (`python -`).
        case standardInput
        /// The interactive prompt (`python` on a terminal, `python -i` after a script).
        case prompt
    }

    /// Runs `program` with `sys.argv` set as `python` would set it, and returns its
    /// exit status. Never throws for the program's own exceptions.
    /// `argv`, when given, replaces the whole `sys.argv` (the Python API's `run_main(path, argv)`).
    static func run(_ program: Program, arguments: [String], argv fullArgv: [String]? = nil,
                    in loader: Loader) throws -> Int32 {
        var argv: [String]
        let pathEntry: String
        switch program {
        case .script(let path):
            argv = [path] + arguments
            pathEntry = folder(of: resolvedPath(path) ?? path)   // a missing script fails below
        case .code:
            argv = ["-c"] + arguments
            pathEntry = ""
        case .module:
            argv = ["-m"] + arguments    // runpy replaces argv[0] with the module's file
            pathEntry = currentFolder() ?? ""
        case .standardInput:
            argv = ["-"] + arguments
            pathEntry = ""
        case .prompt:
            argv = fullArgv ?? [""]
            pathEntry = ""
        }
        if let fullArgv { argv = fullArgv }
        guard let argvList = try? argv.makePythonReference().pointer else { return 1 }
        PySys_SetObject("argv", argvList)
        Py_DecRef(argvList)

        // Like `python script.py` (not -I): the script's folder (symbolic links resolved),
        // the current folder for -m, or "" (the current folder, whichever it is when a
        // module is searched) for -c, standard input and the prompt, comes first on
        // sys.path for the run.
        let sysPath = PySys_GetObject("path")
        let entry = makePythonString(pathEntry)
        if let sysPath, let entry { PyList_Insert(sysPath, 0, entry) }
        defer {
            if let sysPath, let entry {
                let index = PySequence_Index(sysPath, entry)
                if index >= 0 { PySequence_DelItem(sysPath, index) } else { PyErr_Clear() }
            }
            Py_DecRef(entry)
            flushStandardStreams()
        }

        let globals = try loader.mainNamespace()
        switch program {
        case .script(let path):
            guard let code = compileFile(path) else { return exitStatusForPendingException() }
            defer { Py_DecRef(code) }
            setItem(globals, "__file__", makePythonString(path))
            setItem(globals, "__cached__", Py_NewRef(pyl_None()))
            return evaluate(code, globals)
        case .code(let source):
            guard let code = Py_CompileString(source, "<string>", Py_file_input) else {
                return exitStatusForPendingException()
            }
            defer { Py_DecRef(code) }
            return evaluate(code, globals)
        case .standardInput:
            guard let code = compileStandardInput() else { return exitStatusForPendingException() }
            defer { Py_DecRef(code) }
            return evaluate(code, globals)
        case .prompt:
            // `console.py`, in a namespace of its own: the console works on __main__'s.
            guard let scratch = EmbeddedPython.console.runInScratchNamespace() else { return exitStatusForPendingException() }
            Py_DecRef(scratch)
            return 0
        case .module(let name):
            guard let runpy = Resolver.importInCurrentInterpreter("runpy") else { return exitStatusForPendingException() }
            defer { Py_DecRef(runpy) }
            guard let function = PyObject_GetAttrString(runpy, "_run_module_as_main"),
                  let nameObject = makePythonString(name) else { return exitStatusForPendingException() }
            defer { Py_DecRef(function); Py_DecRef(nameObject) }
            let result = PyObject_CallOneArg(function, nameObject)
            guard let result else { return exitStatusForPendingException() }
            Py_DecRef(result)
            return 0
        }
    }

    private static func evaluate(_ code: PyObjectPointer, _ globals: PyObjectPointer) -> Int32 {
        guard let result = PyEval_EvalCode(code, globals, globals) else { return exitStatusForPendingException() }
        Py_DecRef(result)
        return 0
    }

    private static func setItem(_ dict: PyObjectPointer, _ key: String, _ value: PyObjectPointer?) {
        guard let value else { PyErr_Clear(); return }
        PyDict_SetItemString(dict, key, value)
        Py_DecRef(value)
    }

    /// `compile(open(path, 'rb').read(), path, 'exec')`: reading bytes lets the
    /// compiler honour a PEP 263 coding line. Nil with an exception set on failure.
    static func compileFile(_ path: String) -> PyObjectPointer? {
        guard let io = Resolver.importInCurrentInterpreter("io") else { return nil }
        defer { Py_DecRef(io) }
        guard let openCode = PyObject_GetAttrString(io, "open_code"), let pathObject = makePythonString(path) else { return nil }
        defer { Py_DecRef(openCode); Py_DecRef(pathObject) }
        guard let file = PyObject_CallOneArg(openCode, pathObject) else { return nil }
        defer {
            // Closing runs Python code, which must not see compile's SyntaxError pending (it
            // would end in a SystemError, cleared here with it: nothing was printed).
            var type: PyObjectPointer?, value: PyObjectPointer?, traceback: PyObjectPointer?
            PyErr_Fetch(&type, &value, &traceback)
            if let closed = pyl_CallMethod0(file, "close") { Py_DecRef(closed) } else { PyErr_Clear() }
            PyErr_Restore(type, value, traceback)
            Py_DecRef(file)
        }
        guard let source = pyl_CallMethod0(file, "read") else { return nil }
        defer { Py_DecRef(source) }
        guard let builtins = PyEval_GetBuiltins(), let compile = PyDict_GetItemString(builtins, "compile"),
              let arguments = try? ["exec"].makePythonReference().pointer else { return nil }
        defer { Py_DecRef(arguments) }
        let mode = PyList_GetItem(arguments, 0)
        var stack: [PyObjectPointer?] = [source, pathObject, mode]
        return stack.withUnsafeMutableBufferPointer { PyObject_Vectorcall(compile, $0.baseAddress, 3, nil) }
    }

    /// `compile(sys.stdin.buffer.read(), "<stdin>", "exec")`. Nil with an exception set.
    static func compileStandardInput() -> PyObjectPointer? {
        guard let stdin = PySys_GetObject("stdin"), stdin != pyl_None(),
              let buffer = PyObject_GetAttrString(stdin, "buffer") else {
            if PyErr_Occurred() == nil { PyErr_SetString(pyl_ExcRuntimeError(), "sys.stdin is not available") }
            return nil
        }
        defer { Py_DecRef(buffer) }
        guard let source = pyl_CallMethod0(buffer, "read") else { return nil }
        defer { Py_DecRef(source) }
        guard let builtins = PyEval_GetBuiltins(), let compile = PyDict_GetItemString(builtins, "compile"),
              let arguments = try? ["<stdin>", "exec"].makePythonReference().pointer else { return nil }
        defer { Py_DecRef(arguments) }
        var stack: [PyObjectPointer?] = [source, PyList_GetItem(arguments, 0), PyList_GetItem(arguments, 1)]
        return stack.withUnsafeMutableBufferPointer { PyObject_Vectorcall(compile, $0.baseAddress, 3, nil) }
    }

    /// The exit status for the exception now pending, printed as `python` prints it.
    /// PRECONDITION: an exception is set; it is cleared.
    static func exitStatusForPendingException() -> Int32 {
        if PyErr_ExceptionMatches(pyl_ExcSystemExit()) != 0 {
            var type: PyObjectPointer?, value: PyObjectPointer?, traceback: PyObjectPointer?
            PyErr_Fetch(&type, &value, &traceback)
            PyErr_NormalizeException(&type, &value, &traceback)
            defer { Py_DecRef(type); Py_DecRef(value); Py_DecRef(traceback) }
            guard let value, let code = PyObject_GetAttrString(value, "code") else { PyErr_Clear(); return 1 }
            defer { Py_DecRef(code) }
            if code == pyl_None() { return 0 }
            if pyl_IsLong(code) != 0 {
                let status = PyLong_AsLong(code)
                if status == -1, PyErr_Occurred() != nil { PyErr_Clear(); return 1 }
                return Int32(truncatingIfNeeded: status)
            }
            // sys.exit("message"): the message goes to stderr, the status is 1.
            if let stderr = PySys_GetObject("stderr") {
                PyFile_WriteObject(code, stderr, Py_PRINT_RAW)
                PyFile_WriteString("\n", stderr)
            }
            PyErr_Clear()
            return 1
        }
        let interrupted = PyErr_ExceptionMatches(pyl_ExcKeyboardInterrupt()) != 0
        PyErr_PrintEx(0)
        return interrupted ? 130 : 1
    }

    static func flushStandardStreams() {
        for name in ["stdout", "stderr"] {
            guard let stream = PySys_GetObject(name), stream != pyl_None() else { continue }
            if let result = pyl_CallMethod0(stream, "flush") { Py_DecRef(result) } else { PyErr_Clear() }
        }
    }

    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
