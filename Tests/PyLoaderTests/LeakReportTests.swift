import XCTest
@testable import PyLoader

/// The leak report of `close()` (issue 10): modules of loaders that stay open holding
/// objects of the closing loader, as Tomcat reports a web application's leftovers.
final class LeakReportTests: LoaderTestCase {
    func testADeliberateLeakIntoARootModuleIsReported() throws {
        let folder = try temporaryFolder()
        try write(folder + "/hostreg.py", "items = []\nhandlers = {}\nlast = None\n")
        let host = try makeChild("leak-host", paths: [folder])
        let plugin = try makeChild("leak-plug", of: host)
        try plugin.exec("""
            import hostreg, json
            class Plugin:
                pass
            def handler():
                return 1
            hostreg.items.append(Plugin())
            hostreg.handlers['on_load'] = handler
            hostreg.last = Plugin
            hostreg.codec = json
            """)
        let leaks = try plugin.closeReportingLeaks()
        XCTAssertEqual(Set(leaks.map(\.description)), [
            "hostreg.items[0] in loader '\(host.name)' holds __main__.Plugin instance of closing loader '\(plugin.name)'",
            "hostreg.handlers['on_load'] in loader '\(host.name)' holds function __main__.handler of closing loader '\(plugin.name)'",
            "hostreg.last in loader '\(host.name)' holds class __main__.Plugin of closing loader '\(plugin.name)'",
            "hostreg.codec in loader '\(host.name)' holds module json of closing loader '\(plugin.name)'",
        ])
        XCTAssertTrue(leaks.allSatisfy { $0.holderLoader == host.name && $0.holderModule == "hostreg" })
    }

    func testACleanCloseReportsNothing() throws {
        let folder = try temporaryFolder()
        try write(folder + "/hostreg2.py", "items = []\ndef register(x):\n    items.append(x)\n")
        let host = try makeChild("leak-host", paths: [folder])
        let plugin = try makeChild("leak-plug", of: host)
        try plugin.exec("import hostreg2, json\nhostreg2.register(json.dumps([1]))\nhostreg2.register((1, 'a'))")
        XCTAssertEqual(try plugin.closeReportingLeaks(), [])
        let nested = try makeChild("leak-parent", of: host)
        _ = try makeChild("leak-grandchild", of: nested)
        XCTAssertEqual(try nested.closeReportingLeaks(), [])
    }

    /// A descendant's object held by a survivor counts too; objects of the closing subtree
    /// that only the subtree holds do not.
    func testLeaksOfDescendantsAreReportedAndInternalReferencesAreNot() throws {
        let folder = try temporaryFolder()
        try write(folder + "/hostreg3.py", "items = []\n")
        let host = try makeChild("leak-host", paths: [folder])
        let parent = try makeChild("leak-mid", of: host)
        let child = try makeChild("leak-leaf", of: parent)
        try parent.exec("import pyloader\nkept = []")
        try child.exec("class Leaf:\n    pass\nimport hostreg3, pyloader\nhostreg3.items.append(Leaf)")
        try parent.exec("kept.append(pyloader.get('\(child.name)').eval('Leaf()'))")
        let leaks = try parent.closeReportingLeaks()
        XCTAssertEqual(leaks.map(\.description),
                       ["hostreg3.items[0] in loader '\(host.name)' holds class __main__.Leaf of closing loader '\(child.name)'"])
    }

    /// From Python: `Loader.close()` issues one LoaderLeakWarning per leak.
    func testPythonCloseWarnsPerLeak() throws {
        let host = try makeChild("leak-host")
        let plugin = try makeChild("leak-plug", of: host)
        try host.exec("""
            import pyloader, warnings
            _plugin = pyloader.get('\(plugin.name)')
            _plugin.exec('class P:\\n    pass')
            held = [_plugin.eval('P()')]
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter('always')
                _plugin.close()
            messages = [(w.category.__name__, str(w.message)) for w in caught]
            """)
        XCTAssertEqual(try value(host, "messages", as: [[String]].self),
                       [["LoaderLeakWarning", "__main__.held[0] in loader '\(host.name)' holds __main__.P instance of closing loader '\(plugin.name)'"]])
    }
}
