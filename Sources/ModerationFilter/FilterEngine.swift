import Synchronization

/// Holds the live compiled filters (a global one and optional per-scope ones) and swaps them atomically.
///
/// Readers take a reference to an immutable `CompiledFilter` under a mutex held only for that pointer copy,
/// then scan without any lock, so a rebuild never pauses them: they keep using the old filter until their
/// next lookup. Updates compile the new filter outside the reader lock (serialised among writers) and
/// publish it with one assignment.
public final class FilterEngine: Sendable {
    /// An immutable view of what the engine serves.
    public struct Snapshot: Sendable {
        /// The filter for texts without a scope (and for scopes without their own dictionary).
        public let global: CompiledFilter
        /// Scope-specific filters, each compiled from the scope's dictionary layered over the global one.
        public let scopes: [String: CompiledFilter]
        /// The scope overlays as given, kept so that a new global dictionary can be re-layered.
        public let scopeDictionaries: [String: FilterDictionary]
        /// Incremented on every swap.
        public let generation: Int
    }

    private let current: Mutex<Snapshot>
    private let writer = Mutex<Void>(())

    /// Compiles `dictionary` with `options` and serves it.
    public init(dictionary: FilterDictionary, options: FilterOptions = .standard) throws(FilterDictionaryError) {
        let global = try CompiledFilter(dictionary: dictionary, options: options)
        current = Mutex(Snapshot(global: global, scopes: [:], scopeDictionaries: [:], generation: 0))
    }

    /// Serves an already compiled filter.
    public init(filter: CompiledFilter) {
        current = Mutex(Snapshot(global: filter, scopes: [:], scopeDictionaries: [:], generation: 0))
    }

    /// The current snapshot.
    public var snapshot: Snapshot { current.withLock { $0 } }

    /// The filter for `scope` (the global one when the scope has no dictionary of its own).
    public func filter(forScope scope: String? = nil) -> CompiledFilter {
        current.withLock { snapshot in
            if let scope, let filter = snapshot.scopes[scope] { return filter }
            return snapshot.global
        }
    }

    /// Scans with the filter for `scope`.
    public func scan(_ text: String, scope: String? = nil) -> [FilterMatch] { filter(forScope: scope).scan(text) }

    /// Applies the filter for `scope`.
    public func apply(_ text: String, scope: String? = nil) -> FilterOutcome { filter(forScope: scope).apply(text) }

    /// Replaces the global dictionary (and options); every scope is re-layered over it. Readers are not
    /// paused; if compiling throws, nothing changes.
    public func replaceGlobal(with dictionary: FilterDictionary, options: FilterOptions? = nil) throws(FilterDictionaryError) {
        try writer.withLock { _ throws(FilterDictionaryError) in
            let old = snapshot
            let options = options ?? old.global.options
            let global = try CompiledFilter(dictionary: dictionary, options: options)
            var scopes = [String: CompiledFilter]()
            for (scope, overlay) in old.scopeDictionaries {
                scopes[scope] = try CompiledFilter(dictionary: overlay.layered(over: dictionary), options: options)
            }
            publish(Snapshot(global: global, scopes: scopes, scopeDictionaries: old.scopeDictionaries, generation: old.generation + 1))
        }
    }

    /// Sets (or replaces) the dictionary of one scope, layered over the global dictionary.
    public func setScope(_ scope: String, dictionary overlay: FilterDictionary) throws(FilterDictionaryError) {
        try writer.withLock { _ throws(FilterDictionaryError) in
            let old = snapshot
            let filter = try CompiledFilter(dictionary: overlay.layered(over: old.global.dictionary), options: old.global.options)
            var scopes = old.scopes
            scopes[scope] = filter
            var overlays = old.scopeDictionaries
            overlays[scope] = overlay
            publish(Snapshot(global: old.global, scopes: scopes, scopeDictionaries: overlays, generation: old.generation + 1))
        }
    }

    /// Removes a scope's own dictionary; the scope falls back to the global filter.
    public func removeScope(_ scope: String) {
        writer.withLock { _ in
            let old = snapshot
            var scopes = old.scopes
            scopes[scope] = nil
            var overlays = old.scopeDictionaries
            overlays[scope] = nil
            publish(Snapshot(global: old.global, scopes: scopes, scopeDictionaries: overlays, generation: old.generation + 1))
        }
    }

    private func publish(_ snapshot: Snapshot) {
        current.withLock { $0 = snapshot }
    }
}
