import Foundation
import XCTest
@testable import PyLoader

/// Extension modules (compiled `.so` files) imported by more than one loader: each
/// loader after the first gets a private copy of the file, hence its own C state.
///
/// The extensions are built in the set-up from the C sources below (`cc`, no
/// network), each test with its own module names, since the registry of loaded
/// files and the root's `sys.modules` are process-wide.
final class ExtensionModuleTests: ExtensionTestCase {
    func testTwoLiveLoadersEachGetTheirOwnExtensionState() throws {
        // CPython 3.13 runs the init in the main interpreter first: a module that remembers
        // its first interpreter refuses every child there, copy or not (tested below).
        let (name, folder) = try build(counterSource, defines: PythonVersion.singlePhaseInitRunsInMainInterpreterFirst
                                       ? [] : ["REMEMBER_FIRST_INTERPRETER"])
        let a = try makeLoader("ext-a", paths: [folder])
        let b = try makeLoader("ext-b", paths: [folder])
        XCTAssertEqual(try value(a, "__import__('\(name)').bump()", as: Int.self), 1)
        XCTAssertEqual(try value(a, "__import__('\(name)').bump()", as: Int.self), 2)
        // Without a copy, PyInit would refuse the second interpreter, as PyO3 does (3.11).
        XCTAssertEqual(try value(b, "__import__('\(name)').bump()", as: Int.self), 1)
        XCTAssertEqual(try value(a, "__import__('\(name)').bump()", as: Int.self), 3)
        XCTAssertNotEqual(try value(a, "__import__('\(name)').state_address()", as: Int.self),
                          try value(b, "__import__('\(name)').state_address()", as: Int.self))
    }

    func testFirstLoadUsesTheFileInPlaceAndLaterOnesARealCopy() throws {
        let (name, folder) = try build(counterSource)
        let original = extensionPath(name, in: folder)
        let a = try makeLoader("ext-a", paths: [folder])
        let b = try makeLoader("ext-b", paths: [folder])
        _ = try a.importModule(name)
        _ = try b.importModule(name)
        XCTAssertNil(ExtensionModules.copy(of: original, in: a))
        let copy = try XCTUnwrap(ExtensionModules.copy(of: original, in: b))
        XCTAssertTrue(copy.hasPrefix(try XCTUnwrap(ExtensionModules.cacheFolder) + "/"), copy)
        XCTAssertTrue(copy.contains("pyloader-\(getpid())-"), copy)
        var originalInfo = stat(), copyInfo = stat()
        XCTAssertEqual(stat(original, &originalInfo), 0)
        XCTAssertEqual(stat(copy, &copyInfo), 0)
        XCTAssertNotEqual(originalInfo.st_ino, copyInfo.st_ino, "a hard link would be the same library")
        XCTAssertEqual(copyInfo.st_size, originalInfo.st_size)
    }

    func testMultiPhaseExtensionGetsItsOwnCopyToo() throws {
        let (name, folder) = try build(multiPhaseSource, prefix: "multiphase")
        let a = try makeLoader("ext-a", paths: [folder])
        let b = try makeLoader("ext-b", paths: [folder])
        // PEP 489 modules run their exec slot per interpreter, but C globals are still
        // per library: a copy gives b its own.
        XCTAssertEqual(try value(a, "__import__('\(name)').bump()", as: Int.self), 1)
        XCTAssertEqual(try value(b, "__import__('\(name)').bump()", as: Int.self), 1)
        XCTAssertEqual(try value(b, "__import__('\(name)').__file__", as: String.self), extensionPath(name, in: folder))
        XCTAssertNotNil(ExtensionModules.copy(of: extensionPath(name, in: folder), in: b))
    }

    func testExtensionModuleReportsItsOriginalFile() throws {
        let (name, folder) = try build(counterSource)
        let original = extensionPath(name, in: folder)
        let a = try makeLoader("ext-a", paths: [folder])
        let b = try makeLoader("ext-b", paths: [folder])
        for loader in [a, b] {
            _ = try loader.importModule(name)
            XCTAssertEqual(try value(loader, "__import__('\(name)').__file__", as: String.self), original)
            XCTAssertEqual(try value(loader, "__import__('\(name)').__spec__.origin", as: String.self), original)
        }
        XCTAssertNotNil(ExtensionModules.copy(of: original, in: b))
    }

    func testLoaderClosedAndRecreatedImportsTheExtensionAgain() throws {
        let (name, folder) = try build(counterSource)
        // Several rounds: a removed copy's inode is often reused by the next copy,
        // which the dynamic linker would take for the old, still loaded library.
        for round in 1...4 {
            let loader = try makeLoader("ext-round\(round)", paths: [folder])
            XCTAssertEqual(try value(loader, "__import__('\(name)').bump()", as: Int.self), 1, "round \(round)")
            XCTAssertEqual(try value(loader, "__import__('\(name)').bump()", as: Int.self), 2, "round \(round)")
            try loader.close()
        }
    }

    func testCopyIsRemovedWhenItsLoaderCloses() throws {
        let (name, folder) = try build(counterSource)
        let original = extensionPath(name, in: folder)
        let a = try makeLoader("ext-a", paths: [folder])
        let b = try makeLoader("ext-b", paths: [folder])
        _ = try a.importModule(name)
        _ = try b.importModule(name)
        let copy = try XCTUnwrap(ExtensionModules.copy(of: original, in: b))
        XCTAssertEqual(access(copy, F_OK), 0)
        let loaderFolder = try XCTUnwrap(ExtensionModules.cacheFolder) + "/\(b.name).\(b.id)"
        XCTAssertTrue(copy.hasPrefix(loaderFolder + "/"), copy)
        try b.close()
        XCTAssertNotEqual(access(copy, F_OK), 0, "the copy outlived its loader")
        XCTAssertNotEqual(access(loaderFolder, F_OK), 0, "the loader's folder outlived it")
        XCTAssertEqual(access(original, F_OK), 0)
        // The library itself stays loaded: the open loader is unaffected.
        XCTAssertEqual(try value(a, "__import__('\(name)').bump()", as: Int.self), 1)
    }

    func testReimportInOneLoaderReusesItsCopy() throws {
        let (name, folder) = try build(counterSource)
        let original = extensionPath(name, in: folder)
        let a = try makeLoader("ext-a", paths: [folder])
        let b = try makeLoader("ext-b", paths: [folder])
        _ = try a.importModule(name)
        XCTAssertEqual(try value(b, "__import__('\(name)').bump()", as: Int.self), 1)
        let copy = try XCTUnwrap(ExtensionModules.copy(of: original, in: b))
        try b.exec("import sys\ndel sys.modules['\(name)']")
        XCTAssertEqual(try value(b, "__import__('\(name)').bump()", as: Int.self), 2, "same copy, same C state")
        XCTAssertEqual(ExtensionModules.copy(of: original, in: b), copy)
        let entries = try FileManager.default.contentsOfDirectory(atPath: (copy as NSString).deletingLastPathComponent)
        XCTAssertEqual(entries, [(copy as NSString).lastPathComponent])
    }

    func testNewCopyNeverReusesTheInodeOfALoadedLibrary() throws {
        let folder = try temporaryFolder()
        cleanup.append(folder)
        let source = "\(folder)/source.so", target = "\(folder)/copy.so"
        try write(source, String(repeating: "x", count: 4096))
        let first = try ExtensionModules.freshCopy(of: source, at: target) { _ in false }
        // Removed like a closed loader's copy, whose library stays loaded; ext4 hands
        // the freed inode to the next new file at once.
        XCTAssertEqual(unlink(target), 0)
        let second = try ExtensionModules.freshCopy(of: source, at: target) { $0 == first }
        XCTAssertNotEqual(second, first)
        var info = stat()
        XCTAssertEqual(stat(target, &info), 0)
        XCTAssertEqual(UInt64(info.st_ino), second.inode)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder).sorted(), ["copy.so", "source.so"])
    }

    func testErrorPolicyRefusesSecondLoadNamingTheHolder() throws {
        let (name, folder) = try build(counterSource)
        let a = try makeLoader("ext-a", paths: [folder])
        let strict = try makeLoader("ext-strict", paths: [folder], extensions: .error)
        _ = try a.importModule(name)
        XCTAssertThrowsError(try strict.importModule(name)) { error in
            let error = error as? PythonError
            XCTAssertEqual(error?.typeName, "ImportError")
            let message = error?.message ?? ""
            XCTAssertTrue(message.contains("cannot load extension module '\(name)' in loader '\(strict.name)'"), message)
            XCTAssertTrue(message.contains("already loaded by loader '\(a.name)'"), message)
            XCTAssertTrue(message.contains("extensions = \"error\""), message)
            XCTAssertTrue(message.contains("set extensions = \"copy\""), message)
        }
        // The first load of a file is never refused.
        let (other, otherFolder) = try build(counterSource)
        let strictFirst = try makeLoader("ext-strict", paths: [otherFolder], extensions: .error)
        XCTAssertEqual(try value(strictFirst, "__import__('\(other)').bump()", as: Int.self), 1)
    }

    func testErrorPolicyNamesAClosedHolder() throws {
        let (name, folder) = try build(counterSource)
        let a = try makeLoader("ext-a", paths: [folder])
        _ = try a.importModule(name)
        try a.close()
        let strict = try makeLoader("ext-strict", paths: [folder], extensions: .error)
        XCTAssertThrowsError(try strict.importModule(name)) { error in
            let message = (error as? PythonError)?.message ?? ""
            XCTAssertTrue(message.contains("loader '\(a.name)' (closed)"), message)
        }
    }

    func testSharePolicyGetsTheExtensionsOwnImportError() throws {
        let (name, folder) = try build(counterSource, defines: ["REMEMBER_FIRST_INTERPRETER"])
        let sharing = try makeLoader("ext-share", paths: [folder], extensions: .share)
        if PythonVersion.singlePhaseInitRunsInMainInterpreterFirst {
            // 3.13 refuses such a module in every child (tested above); loaded by the root,
            // CPython hands the module it made to a child that loads the same file, without
            // asking the module again: shared C state, no error.
            let root = try Loader.root
            try root.exec("import sys\nsys.path.append(\(pythonLiteral(folder)))")
            defer { try? root.exec("import sys\nsys.path.remove(\(pythonLiteral(folder)))") }
            XCTAssertEqual(try value(root, "__import__('\(name)').bump()", as: Int.self), 1)
            XCTAssertEqual(try value(sharing, "__import__('\(name)').bump()", as: Int.self), 2)
            XCTAssertNil(ExtensionModules.copy(of: extensionPath(name, in: folder), in: sharing))
            return
        }
        let a = try makeLoader("ext-a", paths: [folder])
        _ = try a.importModule(name)
        XCTAssertThrowsError(try sharing.importModule(name)) { error in
            let error = error as? PythonError
            XCTAssertEqual(error?.typeName, "ImportError")
            XCTAssertTrue(error?.message.contains("PyO3 modules do not yet support subinterpreters") ?? false, "\(String(describing: error))")
            // A note (PEP 678) says why, and what would have worked.
            XCTAssertTrue(error?.traceback.contains("extensions = \"share\"") ?? false, error?.traceback ?? "")
        }
        XCTAssertNil(ExtensionModules.copy(of: extensionPath(name, in: folder), in: sharing))
    }

    func testRootLoadsACopyWhenAChildLoadedTheFileFirst() throws {
        let (name, folder) = try build(counterSource)
        let child = try makeLoader("ext-first", paths: [folder])
        XCTAssertEqual(try value(child, "__import__('\(name)').bump()", as: Int.self), 1)
        let root = try Loader.root
        try root.exec("import sys\nsys.path.append(\(pythonLiteral(folder)))")
        defer { try? root.exec("import sys\nsys.path.remove(\(pythonLiteral(folder)))") }
        XCTAssertEqual(try value(root, "__import__('\(name)').bump()", as: Int.self), 1)
        XCTAssertNotNil(ExtensionModules.copy(of: extensionPath(name, in: folder), in: root))
        XCTAssertEqual(try value(child, "__import__('\(name)').bump()", as: Int.self), 2)
    }

    func testHardLinkToALoadedFileIsTheSameFile() throws {
        let (name, folder) = try build(counterSource)
        let linked = try temporaryFolder()
        cleanup.append(linked)
        XCTAssertEqual(link(extensionPath(name, in: folder), extensionPath(name, in: linked)), 0)
        let a = try makeLoader("ext-a", paths: [folder])
        let b = try makeLoader("ext-b", paths: [linked])
        XCTAssertEqual(try value(a, "__import__('\(name)').bump()", as: Int.self), 1)
        // Same inode: the dynamic linker would hand back a's library; b needs a copy.
        XCTAssertEqual(try value(b, "__import__('\(name)').bump()", as: Int.self), 1)
        XCTAssertEqual(try value(b, "__import__('\(name)').__file__", as: String.self), extensionPath(name, in: linked))
    }

    func testSiblingLibraryFoundThroughOriginStillLoadsForACopy() throws {
        let folder = try temporaryFolder()
        cleanup.append(folder)
        let name = uniqueModuleName("sibuser")
        let library = "sib_\(name)"
        try write("\(folder)/\(library).c", siblingLibrarySource)
        try shell("cc -shared -fPIC -o '\(folder)/lib\(library).so' '\(folder)/\(library).c'")
        try write("\(folder)/\(name).c", siblingUserSource)
        try shell("cc -shared -fPIC $(pkg-config --cflags python3-embed) -DEXT_NAME=\(name) '\(folder)/\(name).c'"
                  + " -L'\(folder)' -l\(library) -Wl,-rpath,'$ORIGIN' -o '\(extensionPath(name, in: folder))'")
        let a = try makeLoader("ext-a", paths: [folder])
        let b = try makeLoader("ext-b", paths: [folder])
        XCTAssertEqual(try value(a, "__import__('\(name)').next()", as: Int.self), 1)
        // The copy lives elsewhere, so its $ORIGIN has no sibling; the dynamic linker
        // matches the DT_NEEDED name with the library the original already loaded.
        XCTAssertEqual(try value(b, "__import__('\(name)').next()", as: Int.self), 2, "the sibling library is shared")
        XCTAssertNotNil(ExtensionModules.copy(of: extensionPath(name, in: folder), in: b))
        try b.close()
        let c = try makeLoader("ext-c", paths: [folder])
        XCTAssertEqual(try value(c, "__import__('\(name)').next()", as: Int.self), 3)
    }

    func testExtensionRefusingSubInterpretersGetsAdviceToShareIt() throws {
        let (name, folder) = try build(mainOnlySource, prefix: "mainonly")
        let host = try makeLoader("ext-host", paths: [])
        let plugin = try makeLoader("ext-plugin", of: host, paths: [folder])
        XCTAssertThrowsError(try plugin.importModule(name)) { error in
            let error = error as? PythonError
            XCTAssertEqual(error?.typeName, "ImportError")
            let message = error?.message ?? ""
            XCTAssertTrue(message.contains("cannot be loaded in loader '\(plugin.name)', a sub-interpreter"), message)
            XCTAssertTrue(message.contains("supports only the main interpreter"), message)
            XCTAssertTrue(message.contains("list '\(name)' in `shared` of loader '\(plugin.name)', '\(host.name)'"), message)
        }
        // The advice works: in the root, shared down the chain.
        let root = try Loader.root
        try root.exec("import sys\nsys.path.append(\(pythonLiteral(folder)))")
        defer { try? root.exec("import sys\nsys.path.remove(\(pythonLiteral(folder)))") }
        let sharedHost = try makeLoader("ext-host", paths: [], shared: [name])
        let sharedPlugin = try makeLoader("ext-plugin", of: sharedHost, paths: [folder], shared: [name])
        // Its init refuses every sub-interpreter: imported at all, it was imported by the root.
        XCTAssertTrue(try value(sharedPlugin, "__import__('\(name)') is __import__('sys').modules['\(name)']", as: Bool.self))
        XCTAssertEqual(try sharedPlugin.which(name)?.name, "root")
        XCTAssertTrue(try value(root, "'\(name)' in __import__('sys').modules", as: Bool.self))
    }

    func testModuleThatRemembersItsFirstInterpreterLoadsInAChildOnlyWhereCPythonLetsIt() throws {
        let (name, folder) = try build(counterSource, defines: ["REMEMBER_FIRST_INTERPRETER"])
        let plugin = try makeLoader("ext-pyo3", paths: [folder])
        if PythonVersion.singlePhaseInitRunsInMainInterpreterFirst {
            XCTAssertThrowsError(try plugin.importModule(name)) { error in
                let message = (error as? PythonError)?.message ?? "\(error)"
                XCTAssertTrue(message.contains("runs a single-phase module's init in the main interpreter"), message)
                XCTAssertTrue(message.contains("list '\(name)' in `shared` of loader 'ext-pyo3"), message)
            }
        } else {
            // 3.11: the child is the first interpreter to run it.
            XCTAssertEqual(try value(plugin, "__import__('\(name)').bump()", as: Int.self), 1)
        }
    }

    func testExtensionWhoseInitImportsAModuleLoads() throws {
        let folder = try temporaryFolder()
        cleanup.append(folder)
        let name = uniqueModuleName("importsjson")
        // PyImport_ImportModule reads __builtins__ from the current frame's globals:
        // here pyloader's create_module frame (it raised KeyError without them).
        try write("\(folder)/\(name).c", counterSource.replacingOccurrences(
            of: "if (cached) return Py_NewRef(cached);",
            with: "PyObject *dep = PyImport_ImportModule(\"json\"); if (!dep) return NULL; Py_DECREF(dep);"))
        try shell("cc -shared -fPIC $(pkg-config --cflags python3-embed) -DEXT_NAME=\(name) '\(folder)/\(name).c' -o '\(extensionPath(name, in: folder))'")
        let loader = try makeLoader("ext-a", paths: [folder])
        XCTAssertEqual(try value(loader, "__import__('\(name)').bump()", as: Int.self), 1)
        XCTAssertTrue(try value(loader, "'json' in __import__('sys').modules", as: Bool.self))
    }

    func testMissingDependencyIsNotBlamedOnSubInterpreters() throws {
        let folder = try temporaryFolder()
        cleanup.append(folder)
        let name = uniqueModuleName("needsmissing")
        try write("\(folder)/\(name).c", counterSource.replacingOccurrences(
            of: "if (cached) return Py_NewRef(cached);",
            with: "PyObject *dep = PyImport_ImportModule(\"no_such_module_pyloader\"); if (!dep) return NULL;"))
        try shell("cc -shared -fPIC $(pkg-config --cflags python3-embed) -DEXT_NAME=\(name) '\(folder)/\(name).c' -o '\(extensionPath(name, in: folder))'")
        let loader = try makeLoader("ext-a", paths: [folder])
        XCTAssertThrowsError(try loader.importModule(name)) { error in
            let error = error as? PythonError
            XCTAssertEqual(error?.typeName, "ModuleNotFoundError")
            XCTAssertFalse(error?.message.contains("shared") ?? true, error?.message ?? "")
        }
    }
}

// MARK: Support

/// Builds test extensions and makes loaders with any `ExtensionPolicy`.
class ExtensionTestCase: LoaderTestCase {
    private var loaders: [Loader] = []
    var cleanup: [String] = []

    override func tearDownWithError() throws {
        for loader in loaders.reversed() where !loader.isClosed { try loader.close() }
        loaders.removeAll()
        for folder in cleanup { try? FileManager.default.removeItem(atPath: folder) }
        cleanup.removeAll()
        try super.tearDownWithError()
    }

    /// A new loader (closed after the test).
    func makeLoader(_ prefix: String, of parent: Loader? = nil, paths: [String], delegation: Delegation = .parentFirst,
                    shared: [String] = [], local: [String] = [], extensions: ExtensionPolicy = .copy) throws -> Loader {
        let loader = try (parent ?? Loader.root).child(uniqueName(prefix), paths: paths, delegation: delegation,
                                                       shared: shared, local: local, extensions: extensions)
        loaders.append(loader)
        return loader
    }

    /// Compiles `source` as a new extension module in a new folder.
    /// - Returns: The module's name and the folder.
    func build(_ source: String, prefix: String = "counter", defines: [String] = []) throws -> (String, String) {
        let folder = try temporaryFolder()
        cleanup.append(folder)
        let name = uniqueModuleName(prefix)
        try write("\(folder)/\(name).c", source)
        try shell("cc -shared -fPIC $(pkg-config --cflags python3-embed) -DEXT_NAME=\(name)"
                  + defines.map { " -D\($0)" }.joined()
                  + " '\(folder)/\(name).c' -o '\(extensionPath(name, in: folder))'")
        return (name, folder)
    }

    func extensionPath(_ name: String, in folder: String) -> String {
        "\(folder)/\(name)\(extensionSuffix)"
    }

    func uniqueModuleName(_ prefix: String) -> String {
        uniqueName(prefix).replacingOccurrences(of: "-", with: "_")
    }
}

/// `.cpython-311-x86_64-linux-gnu.so`: what the embedded CPython looks for.
let extensionSuffix: String = {
    (try? Loader.root.eval("__import__('importlib.machinery').machinery.EXTENSION_SUFFIXES[0]").converted(to: String.self)) ?? ".so"
}()

/// Runs a shell command; throws with its output when it fails.
@discardableResult
func shell(_ command: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    guard process.terminationStatus == 0 else {
        throw LoaderError.runtime("`\(command)` failed (\(process.terminationStatus)): \(text)")
    }
    return text
}

/// A single-phase extension with a process-global counter. Built with
/// `-DREMEMBER_FIRST_INTERPRETER`, its init refuses any interpreter but the first that
/// ran it, the way PyO3 does (it remembers the first interpreter's id).
let counterSource = #"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define STR2(x) #x
#define STR(x) STR2(x)
#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)

static long counter = 0;
static int64_t first_interpreter = -1;
static PyObject *cached = NULL;

static PyObject *bump(PyObject *self, PyObject *unused) { return PyLong_FromLong(++counter); }
static PyObject *state_address(PyObject *self, PyObject *unused) { return PyLong_FromVoidPtr(&counter); }

static PyMethodDef methods[] = {
    {"bump", bump, METH_NOARGS, "Adds one to the process-global counter and returns it."},
    {"state_address", state_address, METH_NOARGS, "The address of the counter."},
    {NULL, NULL, 0, NULL},
};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, STR(EXT_NAME), NULL, 0, methods};

PyMODINIT_FUNC CAT(PyInit_, EXT_NAME)(void) {
#ifdef REMEMBER_FIRST_INTERPRETER
    int64_t id = PyInterpreterState_GetID(PyInterpreterState_Get());
    if (first_interpreter == -1) first_interpreter = id;
    else if (first_interpreter != id) {
        PyErr_SetString(PyExc_ImportError,
            "PyO3 modules do not yet support subinterpreters, see https://github.com/PyO3/pyo3/issues/576");
        return NULL;
    }
#endif
    if (cached) return Py_NewRef(cached);
    cached = PyModule_Create(&def);
    return cached ? Py_NewRef(cached) : NULL;
}
"""#

/// A multi-phase (PEP 489) extension with a process-global counter.
let multiPhaseSource = #"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define STR2(x) #x
#define STR(x) STR2(x)
#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)

static long counter = 0;
static PyObject *bump(PyObject *self, PyObject *unused) { return PyLong_FromLong(++counter); }
static PyMethodDef methods[] = {{"bump", bump, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static PyModuleDef_Slot slots[] = {{0, NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, STR(EXT_NAME), NULL, 0, methods, slots};

PyMODINIT_FUNC CAT(PyInit_, EXT_NAME)(void) { return PyModuleDef_Init(&def); }
"""#

/// An extension that refuses every sub-interpreter, whatever its file.
let mainOnlySource = #"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define STR2(x) #x
#define STR(x) STR2(x)
#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)

// m_size 0, not -1: CPython 3.13 then runs the init again in each sub-interpreter (with
// -1 it copies the main interpreter's module dict instead, and never asks the module).
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, STR(EXT_NAME), NULL, 0, NULL};

PyMODINIT_FUNC CAT(PyInit_, EXT_NAME)(void) {
    if (PyInterpreterState_Get() != PyInterpreterState_Main()) {
        PyErr_SetString(PyExc_ImportError, STR(EXT_NAME) " supports only the main interpreter");
        return NULL;
    }
    return PyModule_Create(&def);
}
"""#

/// A plain shared library with state, linked by `siblingUserSource`.
let siblingLibrarySource = #"""
static int calls = 0;
int sib_next(void) { return ++calls; }
"""#

/// An extension that needs a sibling library found through `$ORIGIN`.
let siblingUserSource = #"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define STR2(x) #x
#define STR(x) STR2(x)
#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)

int sib_next(void);
static PyObject *next(PyObject *self, PyObject *unused) { return PyLong_FromLong(sib_next()); }
static PyMethodDef methods[] = {{"next", next, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, STR(EXT_NAME), NULL, -1, methods};

PyMODINIT_FUNC CAT(PyInit_, EXT_NAME)(void) { return PyModule_Create(&def); }
"""#
