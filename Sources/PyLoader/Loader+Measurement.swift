import CPython
import CPyLoader

extension Loader {
    /// Switches this loader's import hook off (CPython's own `builtins.__import__`
    /// back in place) or on again. For measuring what the hook costs (`pyloader
    /// bench`): with it off, code of this loader called from another loader imports
    /// into the caller's interpreter, which is exactly the bug the hook prevents.
    @_spi(Measurement)
    public func setImportHookInstalled(_ installed: Bool) throws {
        try withActivated {
            guard let hook = importHook else { return }
            let status = installed ? pyl_InstallImportHook(hook) : pyl_UninstallImportHook(hook)
            guard status == 0 else { throw PythonError.fetch(in: self) }
        }
    }
}
