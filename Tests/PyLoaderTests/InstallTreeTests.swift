import Foundation
import XCTest
@testable import PyLoader

/// `pip install --target` trees and virtual environments' site-packages as loader
/// paths: `.pth` files, namespace packages, `*.dist-info` metadata, and metadata
/// that follows delegation (`importlib.metadata` answers from the defining loader).
final class InstallTreeTests: ExtensionTestCase {
    // MARK: Trees

    func testPthFileInATreeAddsItsFoldersAndRunsItsImports() throws {
        let tree = try folder()
        try makePackage(in: "\(tree)/vendored", name: "vendoredpkg", body: "VALUE = 'vendored'\n")
        try write("\(tree)/pthmarker.py", "import sys\nsys.pyloader_test_pth_ran = True\n")
        try write("\(tree)/extra.pth", "# a comment\nvendored\nimport pthmarker\n")
        let loader = try makeChild("tree", paths: [tree])
        XCTAssertEqual(try value(loader, "__import__('vendoredpkg').VALUE", as: String.self), "vendored")
        XCTAssertTrue(try value(loader, "getattr(__import__('sys'), 'pyloader_test_pth_ran', False)", as: Bool.self))
        XCTAssertTrue(try value(loader, "\(pythonLiteral(tree + "/vendored")) in __import__('sys').path", as: Bool.self))
    }

    func testPthImportLinesFollowDelegation() throws {
        let parentTree = try folder(), childTree = try folder()
        try makePackage(in: parentTree, name: "pthshared", body: "")
        try write("\(childTree)/uses.pth", "import pthshared\n")
        let parent = try makeChild("pth-parent", paths: [parentTree])
        let child = try makeChild("pth-child", of: parent, paths: [childTree])
        // The .pth ran after the delegating finder was installed: the parent's module.
        XCTAssertTrue(try value(child, "'pthshared' in __import__('sys').modules", as: Bool.self))
        XCTAssertEqual(try child.which("pthshared")?.name, parent.name)
    }

    func testNamespacePackageSpansTheLoadersFolders() throws {
        let first = try folder(), second = try folder()
        try makeFolder("\(first)/nsroot"); try makeFolder("\(second)/nsroot")
        try write("\(first)/nsroot/alpha.py", "NAME = 'alpha'\n")
        try write("\(second)/nsroot/beta.py", "NAME = 'beta'\n")
        let loader = try makeChild("ns", paths: [first, second])
        XCTAssertEqual(try value(loader, "__import__('nsroot.alpha').alpha.NAME", as: String.self), "alpha")
        XCTAssertEqual(try value(loader, "__import__('nsroot.beta').beta.NAME", as: String.self), "beta")
        XCTAssertEqual(try value(loader, "sorted(__import__('nsroot').__path__)", as: [String].self),
                       ["\(first)/nsroot", "\(second)/nsroot"].sorted())
        XCTAssertTrue(try value(loader, "getattr(__import__('nsroot'), '__file__', None) is None", as: Bool.self), "a namespace package")
    }

    func testDistInfoMetadataInATree() throws {
        let tree = try folder()
        try makeDistribution(in: tree, distribution: "tiny-dist", module: "tinypkg", version: "1.0",
                             entryPoint: "hello = tinypkg:hello")
        let loader = try makeChild("meta", paths: [tree])
        XCTAssertEqual(try value(loader, "__import__('importlib.metadata').metadata.version('tiny-dist')", as: String.self), "1.0")
        XCTAssertEqual(try value(loader, "__import__('importlib.metadata').metadata.packages_distributions().get('tinypkg')",
                                 as: [String].self), ["tiny-dist"])
        XCTAssertEqual(try value(loader, "[e.value for e in __import__('importlib.metadata').metadata.entry_points(group='pyloader.tests')]",
                                 as: [String].self), ["tinypkg:hello"])
    }

    func testPipInstallTargetTreeWorksAsALoaderPath() throws {
        guard (try? shell("/usr/bin/python3 -m pip --version")) != nil else { throw XCTSkip("no pip for /usr/bin/python3") }
        let source = try folder(), tree = try folder()
        try makeFolder("\(source)/pipdemo")
        try write("\(source)/pipdemo/__init__.py", "__version__ = '3.2.1'\n")
        try write("\(source)/pipdemo/data.txt", "packaged data\n")
        try write("\(source)/pyproject.toml", """
            [build-system]
            requires = ["setuptools"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "pip-demo"
            version = "3.2.1"

            [tool.setuptools]
            packages = ["pipdemo"]
            package-data = {pipdemo = ["data.txt"]}
            """)
        // Offline: no index, the system's setuptools builds the wheel.
        try shell("cd '\(source)' && /usr/bin/python3 -m pip install --quiet --no-index --no-build-isolation"
                  + " --no-cache-dir --target '\(tree)' . 2>&1")
        let loader = try makeChild("pip", paths: [tree])
        XCTAssertEqual(try value(loader, "__import__('pipdemo').__version__", as: String.self), "3.2.1")
        XCTAssertEqual(try value(loader, "__import__('importlib.metadata').metadata.version('pip-demo')", as: String.self), "3.2.1")
        XCTAssertEqual(try value(loader, "__import__('importlib.resources').resources.files('pipdemo').joinpath('data.txt').read_text()",
                                 as: String.self), "packaged data\n")
    }

    func testVirtualEnvironmentSitePackagesWorksAsALoaderPath() throws {
        let environment = try folder()
        try shell("/usr/bin/python3 -m venv --without-pip '\(environment)/venv'")
        let sitePackages = "\(environment)/venv/lib/python3.11/site-packages"
        try makeDistribution(in: sitePackages, distribution: "venv-dist", module: "venvpkg", version: "0.9")
        try makePackage(in: "\(environment)/extra", name: "venvextra", body: "")
        try write("\(sitePackages)/extra.pth", "\(environment)/extra\n")
        let loader = try makeChild("venv", paths: [sitePackages])
        XCTAssertEqual(try value(loader, "__import__('venvpkg').VERSION", as: String.self), "0.9")
        XCTAssertEqual(try value(loader, "__import__('importlib.metadata').metadata.version('venv-dist')", as: String.self), "0.9")
        XCTAssertEqual(try loader.which("venvextra")?.name, loader.name)
    }

    // MARK: Metadata follows delegation

    func testMetadataVersionFollowsDelegation() throws {
        let (host, plain, childFirst, parentFirst) = try pluginTree()
        // Without a copy of its own: the parent's distribution.
        XCTAssertEqual(try version(in: plain), "1.0")
        // Child-first with its own copy: its own, like the module it imports.
        XCTAssertEqual(try version(in: childFirst), "2.0")
        // Parent-first with its own copy: the parent provides the package, so its metadata.
        XCTAssertEqual(try version(in: parentFirst), "1.0")
        XCTAssertEqual(try version(in: host), "1.0")
        for loader in [host, plain, childFirst, parentFirst] {
            XCTAssertEqual(try value(loader, "__import__('tinypkg').VERSION", as: String.self), try version(in: loader), loader.name)
        }
    }

    func testDistributionComesFromTheDefiningLoader() throws {
        let (host, plain, childFirst, _) = try pluginTree()
        let expression = "__import__('pyloader').defining_loader(type(__import__('importlib.metadata').metadata.distribution('tiny-dist'))).name"
        XCTAssertEqual(try value(plain, expression, as: String.self), host.name)
        XCTAssertEqual(try value(childFirst, expression, as: String.self), childFirst.name)
    }

    func testMetadataOfAPackageTheLoaderCannotImportIsNotFound() throws {
        let (host, _, _, _) = try pluginTree()
        let isolated = try makeChild("isolated", of: host, local: ["tinypkg"])
        XCTAssertThrowsError(try isolated.eval("__import__('importlib.metadata').metadata.version('tiny-dist')")) { error in
            XCTAssertEqual((error as? PythonError)?.typeName, "PackageNotFoundError")
        }
    }

    func testEntryPointsFollowDelegation() throws {
        let (host, plain, childFirst, _) = try pluginTree()
        let expression = "[e.name for e in __import__('importlib.metadata').metadata.entry_points(group='pyloader.tests')]"
        XCTAssertEqual(try value(plain, expression, as: [String].self), ["hello"])
        XCTAssertEqual(try value(childFirst, expression, as: [String].self), ["hello2"])
        // Loading the plugin's entry point gives the defining loader's function.
        try plain.exec("import importlib.metadata as m\nloaded = next(iter(m.entry_points(group='pyloader.tests'))).load()")
        XCTAssertEqual(try value(plain, "__import__('pyloader').defining_loader(loaded).name", as: String.self), host.name)
        XCTAssertEqual(try value(plain, "loaded()", as: String.self), "hello 1.0")
    }

    func testResourcesReadFromTheDefiningLoadersFiles() throws {
        let (_, plain, childFirst, _) = try pluginTree()
        let expression = "__import__('importlib.resources').resources.files('tinypkg').joinpath('data.txt').read_text()"
        XCTAssertEqual(try value(plain, expression, as: String.self), "data 1.0\n")
        XCTAssertEqual(try value(childFirst, expression, as: String.self), "data 2.0\n")
    }

    func testExplicitPathIsNotDelegated() throws {
        let (_, plain, _, _) = try pluginTree()
        XCTAssertEqual(try value(plain, "list(__import__('importlib.metadata').metadata.distributions(name='tiny-dist', path=[]))",
                                 as: [String].self), [])
    }

    // MARK: Support

    /// host (tiny-dist 1.0) → plain (parent-first, no copy), childFirst (own 2.0),
    /// parentFirst (parent-first, own 2.0 on its path).
    private func pluginTree() throws -> (Loader, Loader, Loader, Loader) {
        let one = try folder(), two = try folder()
        try makeDistribution(in: one, distribution: "tiny-dist", module: "tinypkg", version: "1.0",
                             entryPoint: "hello = tinypkg:hello")
        try makeDistribution(in: two, distribution: "tiny-dist", module: "tinypkg", version: "2.0",
                             entryPoint: "hello2 = tinypkg:hello")
        let host = try makeChild("meta-host", paths: [one])
        let plain = try makeChild("meta-plain", of: host)
        let childFirst = try makeChild("meta-own", of: host, paths: [two], delegation: .childFirst)
        let parentFirst = try makeChild("meta-pf", of: host, paths: [two])
        return (host, plain, childFirst, parentFirst)
    }

    private func version(in loader: Loader) throws -> String {
        try value(loader, "__import__('importlib.metadata').metadata.version('tiny-dist')", as: String.self)
    }

    private func folder() throws -> String {
        let folder = try temporaryFolder()
        cleanup.append(folder)
        return folder
    }

    private func makePackage(in folder: String, name: String, body: String) throws {
        try FileManager.default.createDirectory(atPath: "\(folder)/\(name)", withIntermediateDirectories: true)
        try write("\(folder)/\(name)/__init__.py", body)
    }

    /// What `pip install --target` leaves for a one-package distribution: the package,
    /// and `<name>-<version>.dist-info` with METADATA, RECORD (no top_level.txt, so
    /// the import name comes from RECORD) and entry points.
    private func makeDistribution(in folder: String, distribution: String, module: String, version: String,
                                  entryPoint: String? = nil) throws {
        try makePackage(in: folder, name: module, body: """
            VERSION = \(pythonLiteral(version))
            def hello():
                return "hello " + VERSION

            """)
        try write("\(folder)/\(module)/data.txt", "data \(version)\n")
        let info = "\(distribution.replacingOccurrences(of: "-", with: "_"))-\(version).dist-info"
        try makeFolder("\(folder)/\(info)")
        try write("\(folder)/\(info)/METADATA", "Metadata-Version: 2.1\nName: \(distribution)\nVersion: \(version)\n")
        try write("\(folder)/\(info)/INSTALLER", "pip\n")
        var record = "\(module)/__init__.py,,\n\(module)/data.txt,,\n\(info)/METADATA,,\n\(info)/INSTALLER,,\n\(info)/RECORD,,\n"
        if let entryPoint {
            try write("\(folder)/\(info)/entry_points.txt", "[pyloader.tests]\n\(entryPoint)\n")
            record += "\(info)/entry_points.txt,,\n"
        }
        try write("\(folder)/\(info)/RECORD", record)
    }
}
