import XCTest
import PyLoader

/// The README's worked example, as written there (paths made absolute).
final class ReadmeExampleTests: LoaderTestCase {
    func testTheReadmePluginExampleWorksAsWritten() throws {
        let demo = "\(fixtures)/demo"
        let root = try Loader.root
        let host = try root.child(uniqueName("host"), paths: ["\(demo)/host"])
        defer { try? host.close() }
        let alpha = try host.child(uniqueName("alpha"),
                                   paths: ["\(demo)/plugins/alpha", "\(demo)/plugins/alpha/site-packages"],
                                   delegation: .childFirst, shared: ["hostapi"])
        let beta = try host.child(uniqueName("beta"),
                                  paths: ["\(demo)/plugins/beta", "\(demo)/plugins/beta/site-packages"],
                                  delegation: .childFirst, shared: ["hostapi"])
        XCTAssertEqual(try alpha.importModule("greeting").__version__.description, "1.0")
        XCTAssertEqual(try beta.importModule("greeting").__version__.description, "2.0")
        _ = try alpha.importModule("alpha")
        _ = try beta.importModule("beta")
        let hostapi = try host.importModule("hostapi")
        let greetings = try [PythonObject](python: hostapi.plugins()).map { try String(python: $0.greet("Ada")) }
        XCTAssertEqual(greetings.sorted(), ["Hello, Ada!", "Hi there, Ada! (greeting 2)"])
        XCTAssertEqual(try host.eval("all(isinstance(p, __import__('hostapi').Plugin) for p in __import__('hostapi').plugins())").description, "True")
        XCTAssertEqual(try alpha.which("hostapi")?.name, host.name)
        XCTAssertEqual(try alpha.which("greeting")?.name, alpha.name)
        let namespace = try [String: PythonObject](python: alpha.eval("{'v': __import__('greeting').__version__}"))
        XCTAssertEqual(namespace["v"]?.description, "1.0")
        try host.close()
        XCTAssertTrue(alpha.isClosed && beta.isClosed && host.isClosed)
    }
}
