import ArgumentParser
import PyLoader

/// `pyloader tree`: the loader tree the manifest makes.
struct TreeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tree",
        abstract: "Show the loader tree: names, delegation, paths, shared and local names."
    )

    @OptionGroup var tree: TreeOptions

    func run() throws {
        // Building the tree (not just reading the manifest) shows what really exists.
        let made = try tree.makeTree()
        writeOutput("\(made.source) (paths relative to \(made.folder))")
        for line in TreeCommand.render(made) { writeOutput(line) }
    }

    /// The tree drawn with box characters, one loader per line and its settings below it:
    ///
    ///     root
    ///     │   paths: standard library only
    ///     └── host  parent-first
    ///             paths: host
    ///
    /// Paths are shown relative to the manifest's folder when inside it.
    static func render(_ tree: LoaderTree) -> [String] {
        var lines: [String] = []
        let rootDetails = ["paths: " + list(tree.manifest.root.paths.map(tree.displayed), empty: "standard library only")]
            + (tree.manifest.root.systemSitePackages ? ["system site-packages: yes"] : [])
        add(tree.root, header: "root", details: rootDetails, prefix: "", branch: nil, tree: tree, into: &lines)
        return lines
    }

    /// Appends `loader` and its subtree. `branch` is nil for the root, else whether the
    /// loader is the last of its siblings.
    private static func add(_ loader: Loader, header: String, details: [String], prefix: String,
                            branch isLast: Bool?, tree: LoaderTree, into lines: inout [String]) {
        let connector = isLast.map { $0 ? "└── " : "├── " } ?? ""
        lines.append(prefix + connector + header)
        let inner = prefix + (isLast.map { $0 ? "    " : "│   " } ?? "")
        let children = loader.children
        for detail in details {
            lines.append(inner + (children.isEmpty ? "    " : "│   ") + detail)
        }
        for (index, child) in children.enumerated() {
            var childDetails = ["paths: " + list(child.paths.map(tree.displayed), empty: "none (standard library only)")]
            if !child.shared.isEmpty { childDetails.append("shared: " + list(child.shared, empty: "")) }
            if !child.local.isEmpty { childDetails.append("local: " + list(child.local, empty: "")) }
            add(child, header: "\(child.name)  \(child.delegation.rawValue)", details: childDetails,
                prefix: inner, branch: index == children.count - 1, tree: tree, into: &lines)
        }
    }

    private static func list(_ items: [String], empty: String) -> String {
        items.isEmpty ? empty : items.joined(separator: ", ")
    }
}
