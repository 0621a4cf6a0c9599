import CPython
import Foundation
import XCTest
@testable import PyLoader

/// Rows of the fault matrix (see `FaultMatrixTestCase`): bad manifests.
final class FaultMatrixManifestTests: FaultMatrixTestCase {
    // MARK: - Manifest

    /// A few hundred manifests — the demo manifest mutated, random structures, and a
    /// handful of adversarial texts — through the real parse path (`Manifest.parse`,
    /// which runs `tomllib` in the root). Each must end in a `Manifest` or a
    /// `ManifestError` (the CLI's exit 2), never another error, a crash or a hang.
    /// Manifests that parse are also built (`makeLoaders`) and closed again, unless they
    /// touch the root's `sys.path`, which would leak into the other tests.
    func testManifestFuzzEndsInSuccessOrManifestError() throws {
        let demo = "\(fixtures)/demo"
        let texts = ManifestFuzz.texts(count: 400, seed: 0x5EED_7007,
                                       base: try String(contentsOfFile: demo + "/pyloader.toml", encoding: .utf8))
        let state = Lock()
        nonisolated(unsafe) var current = ""
        nonisolated(unsafe) var failures: [String] = []
        nonisolated(unsafe) var parsed = 0, rejected = 0, built = 0
        let finished = DispatchSemaphore(value: 0)
        let worker = Thread {
            for (index, text) in texts.enumerated() {
                state.withLock { current = text }
                let file = "\(demo)/fuzz-\(index).toml"
                do {
                    let manifest = try Manifest.parse(file: file, source: text)
                    state.withLock { parsed += 1 }
                    guard manifest.root.paths.isEmpty, !manifest.root.systemSitePackages else { continue }
                    do {
                        let made = try manifest.makeLoaders()
                        for spec in manifest.loaders.reversed() { try made[spec.name]?.close() }
                        state.withLock { built += 1 }
                    } catch is ManifestError {
                    }
                } catch let error as ManifestError {
                    state.withLock { rejected += 1 }
                    if "\(error)".contains("\n") {
                        state.withLock { failures.append("#\(index) a ManifestError of more than one line: \(error)") }
                    }
                } catch {
                    state.withLock { failures.append("#\(index) \(type(of: error)) \(error)\n--- text ---\n\(text.prefix(300))") }
                }
            }
            finished.signal()
        }
        worker.stackSize = 8 << 20
        worker.start()
        guard finished.wait(timeout: .now() + 600) == .success else {
            return XCTFail("the manifest fuzz hung on:\n" + state.withLock { current }.prefix(600))
        }
        XCTAssertEqual(failures, [], "\(failures.count) manifest(s) ended in an error that is not a ManifestError")
        XCTAssertEqual(parsed + rejected + failures.count, texts.count)
        XCTAssertGreaterThan(parsed, 20, "the generator hardly ever produced a valid manifest")
        XCTAssertGreaterThan(rejected, 100)
        print("manifest fuzz: \(texts.count) texts, \(parsed) parsed (\(built) built and closed), \(rejected) ManifestError")
        XCTAssertEqual(try Loader.root.children.filter { !$0.name.contains("-") }.map(\.name), [],
                       "a fuzzed loader was left open")
        try assertHealthy()
    }

    /// `tomllib` parses nested arrays and inline tables recursively: a few hundred
    /// levels raise RecursionError, which `TOMLParser.parse` let through as a
    /// PythonError before 650f4f6 (the CLI would not exit 2).
    func testManifestWithDeeplyNestedValuesIsAManifestError() throws {
        for text in ["a = " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "\n",
                     "a = " + String(repeating: "{ b = ", count: 3000) + "1" + String(repeating: " }", count: 3000) + "\n"] {
            XCTAssertThrowsError(try Manifest.parse(file: "\(fixtures)/demo/deep.toml", source: text)) { error in
                XCTAssertTrue(error is ManifestError, "\(type(of: error)): \(error)")
            }
        }
        try assertHealthy()
    }

    /// `TOMLParser.value(of:)` converts nested tables and arrays recursively; before
    /// 650f4f6 it had no depth limit. tomllib builds dotted table headers without
    /// recursion, so `[a.a.a…b]` with 20,000 levels overflowed even the 8 MB main-thread
    /// stack (SIGSEGV); 250 levels of inline tables overflowed a 512 KB thread stack, and
    /// 3,000 dotted levels did under AddressSanitizer. Runs in a child process.
    func testManifestParseOnASmallStackDoesNotOverflow() throws {
        try assertScenarioSucceeds("manifest-small-stack")
    }
}

/// Manifest texts for the fuzz row, from a seeded generator (SplitMix64), so that a
/// failure names a text that can be produced again.
enum ManifestFuzz {
    typealias Generator = SplitMix64

    static let names = ["host", "alpha", "beta", "a", "plugin-a", "x.y", "root", "", "a b", "-x", "é", "host2", "B_1"]
    static let paths = ["host", "plugins/alpha", "plugins/alpha/site-packages", "plugins/beta", "nope", "pyloader.toml",
                        "../demo/host", "/tmp", "", ".", "host/../host", "plugins/*"]
    static let modules = ["hostapi", "greeting", "json", "a.b", "1x", "", "_ok", "héllo", "os"]
    static let values = [#""child-first""#, #""parent-first""#, #""sideways""#, "1", "-0", "3.5", "inf", "nan", "true",
                         "false", "[]", #"["host"]"#, "[1, 2]", #"[["x"]]"#, "{}", "{ a = 1 }", "1979-05-27T07:32:00Z",
                         #""""#, #""copy""#, #""share""#, #""error""#, #""root""#, #""nowhere""#, "99999999999999999999999",
                         "'''multi\nline'''", #""\u00e9""#, #""tab\there""#]
    static let keys = ["paths", "parent", "delegation", "shared", "local", "extensions", "system_site_packages",
                       "colour", "Paths", #""paths""#, "paths.x", "parent = \"host\"\nparent"]
    static let fragments = ["[", "]", "=", "\"", "'", "#", "\n", "{", "}", ",", "\\", "\u{0}", "\r\n", "\t", "é", "\u{FEFF}",
                            "[[loaders.x]]\n", "[loaders]\n", "[loaders.root]\n", "[loaders.\"a b\"]\n", "[root]\n",
                            "[loaders.alpha]\n", "parent = \"beta\"\n", "paths = [\"nope\"]\n", "delegation = 5\n",
                            "shared = [\"greeting\"]\nlocal = [\"greeting\"]\n", "unknown = 1\n", "[other]\n",
                            "system_site_packages = \"yes\"\n", #"x = "\q""# + "\n"]

    static func texts(count: Int, seed: UInt64, base: String) -> [String] {
        var random = Generator(seed: seed)
        var texts = adversarial()
        while texts.count < count {
            texts.append(random.chance(60) ? mutated(base, &random) : generated(&random))
        }
        return Array(texts.prefix(count))
    }

    /// Fixed texts aimed at the parser's and the converter's limits.
    static func adversarial() -> [String] {
        [
            "",
            "\u{FEFF}[root]\n",
            "[root]\r\npaths = []\r\n",
            // Deeper nesting has rows of its own (testManifestWithDeeplyNestedValuesIs-
            // AManifestError, testManifestParseOnASmallStackDoesNotOverflow); 16 levels parse.
            "a = " + String(repeating: "[", count: 16) + String(repeating: "]", count: 16) + "\n",
            "a = " + String(repeating: "{ b = ", count: 16) + "1" + String(repeating: " }", count: 16) + "\n",
            "[" + String(repeating: "a.", count: 16) + "b]\n",
            "[loaders.\(String(repeating: "x", count: 100_000))]\n",
            "[loaders.a]\npaths = [" + Array(repeating: "\"host\"", count: 5000).joined(separator: ", ") + "]\n",
            "[loaders.a]\nparent = \"a\"\n",
            "[loaders.a]\nparent = \"b\"\n[loaders.b]\nparent = \"c\"\n[loaders.c]\nparent = \"a\"\n",
            "[loaders.a]\nx = 99999999999999999999999999\n",
            #"[loaders.a]"# + "\n" + #"x = "\uD800""# + "\n",
            "[loaders.a]\nnul = \"\u{0}\"\n",
            #"[loaders."new\nline"]"# + "\n",
            "[loaders.a]\nshared = [\"json\"]\nlocal = [\"json\"]\n",
            "loaders = 3\n",
            "root = []\n",
            "[[loaders]]\n",
            "[loaders.a.b]\n",
            "[loaders.a]\npaths = \"host\"\n",
        ]
    }

    static func mutated(_ base: String, _ random: inout Generator) -> String {
        var text = Array(base)
        for _ in 0..<(1 + random.below(4)) {
            let lines = String(text).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            switch random.below(8) {
            case 0 where !text.isEmpty:   // delete a span
                let start = random.below(text.count)
                text.removeSubrange(start..<min(text.count, start + 1 + random.below(12)))
            case 1:   // insert a fragment
                text.insert(contentsOf: random.pick(fragments), at: random.below(text.count + 1))
            case 2 where !lines.isEmpty:   // duplicate a line
                var copy = lines
                let index = random.below(copy.count)
                copy.insert(copy[index], at: random.below(copy.count + 1))
                text = Array(copy.joined(separator: "\n"))
            case 3 where lines.count > 1:   // swap two lines
                var copy = lines
                copy.swapAt(random.below(copy.count), random.below(copy.count))
                text = Array(copy.joined(separator: "\n"))
            case 4:   // truncate
                text = Array(text.prefix(random.below(text.count + 1)))
            case 5:   // replace a value
                var copy = lines
                let assignments = copy.indices.filter { copy[$0].contains("=") }
                if !assignments.isEmpty {
                    let index = random.pick(assignments)
                    copy[index] = copy[index].split(separator: "=", maxSplits: 1)[0] + "= " + random.pick(values)
                }
                text = Array(copy.joined(separator: "\n"))
            case 6 where !text.isEmpty:   // replace a character
                text[random.below(text.count)] = random.pick(Array("[]=\"'#{},.\\ \nxé0-_"))
            default:   // append a section
                text += Array("\n[loaders.\(random.pick(names))]\n\(random.pick(keys)) = \(random.pick(values))\n")
            }
        }
        return String(text)
    }

    static func generated(_ random: inout Generator) -> String {
        var text = ""
        if random.chance(30) {
            text += "[root]\n"
            if random.chance(50) { text += "paths = \(list(paths, &random))\n" }
            if random.chance(30) { text += "system_site_packages = \(random.pick(["false", "true", "\"no\"", "0"]))\n" }
        }
        for _ in 0..<random.below(5) {
            text += "\n[loaders.\(tomlKey(random.pick(names)))]\n"
            if random.chance(50) { text += "parent = \"\(random.pick(names))\"\n" }
            if random.chance(60) { text += "paths = \(list(paths, &random))\n" }
            if random.chance(40) { text += "delegation = \(random.pick(["\"child-first\"", "\"parent-first\"", "\"up\"", "1"]))\n" }
            if random.chance(40) { text += "shared = \(list(modules, &random))\n" }
            if random.chance(30) { text += "local = \(list(modules, &random))\n" }
            if random.chance(20) { text += "extensions = \(random.pick(values))\n" }
            if random.chance(10) { text += "\(random.pick(keys)) = \(random.pick(values))\n" }
        }
        return text
    }

    static func list(_ items: [String], _ random: inout Generator) -> String {
        "[" + (0..<random.below(4)).map { _ in "\"\(random.pick(items))\"" }.joined(separator: ", ") + "]"
    }
}
