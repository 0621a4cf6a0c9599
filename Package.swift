// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "PyLoader",
    products: [
        .library(name: "PyLoader", targets: ["PyLoader"]),
        .executable(name: "pyloader", targets: ["pyloader"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
    ],
    targets: [
        // Debian's libpython3-dev (CPython 3.11) through pkg-config.
        .systemLibrary(
            name: "CPython",
            path: "Sources/CPython",
            pkgConfig: "python3-embed",
            providers: [.apt(["libpython3-dev"])]
        ),
        // C only where Swift cannot go: macro wrappers, C globals, the hot import hook.
        .target(name: "CPyLoader", dependencies: ["CPython"]),
        // The Swift 6 language mode. The GIL is the lock for most shared state here, which
        // Swift's checker cannot see: the few types it guards say so once, with
        // `@unchecked Sendable` (Loader, PythonObject, GILGuarded), and debug builds check
        // it (`assertHoldingGIL`, Internals/GILChecks.swift).
        .target(
            name: "PyLoader",
            dependencies: [
                "CPython", "CPyLoader",
                .product(name: "Logging", package: "swift-log"),
            ],
            // PyLoader's Python, embedded at build time (EmbeddedPython.swift).
            resources: [
                .embedInCode("Python/pyloader.py"),
                .embedInCode("Python/errors.py"),
                .embedInCode("Python/import_system.py"),
                .embedInCode("Python/interpreter_setup.py"),
                .embedInCode("Python/console.py"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The figures of `pyloader bench` (BENCHMARKS.md); they measure the raw
        // Py_NewInterpreter floor, hence CPython and the shim.
        .target(
            name: "PyLoaderBenchmarks",
            dependencies: ["PyLoader", "CPython", "CPyLoader"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // CPython's own main on the same libpython: the benchmarks' fair process peer.
        .executableTarget(name: "python-on-libpython", dependencies: ["CPython"]),
        .executableTarget(
            name: "pyloader",
            dependencies: [
                "PyLoader", "PyLoaderBenchmarks",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // The Python halves of `pyloader test` (RunnerPython.swift).
            resources: [
                .embedInCode("Python/unittest_runner.py"),
                .embedInCode("Python/pytest_controller.py"),
                .embedInCode("Python/pytest_worker.py"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(
            name: "PyLoaderTests",
            dependencies: [
                "PyLoader", "CPython", "CPyLoader",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
