/// What a loader does when it imports an extension module (a `.so` file) that another
/// loader has already loaded. Set per loader with `extensions = "..."` in the manifest.
public enum ExtensionPolicy: String, Sendable, CaseIterable {
    /// Load a private copy of the file, so each loader gets its own module state (the default).
    case copy
    /// Load the file in place; the dynamic loader then shares one copy of its C state.
    case share
    /// Refuse the import with an `ImportError`.
    case error
}
