/// The order in which a loader looks for a top-level name: its parent first
/// (Java's default), or its own paths first (Tomcat's web-application loader).
/// Steps 6 and 7 of delegation; all the steps are in `Resolver.decide`.
public enum Delegation: String, Sendable, CaseIterable {
    /// Ask the parent first; load locally only what the parent cannot provide.
    case parentFirst = "parent-first"
    /// Look in the loader's own paths first; ask the parent only for what they lack.
    case childFirst = "child-first"
}
