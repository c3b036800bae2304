import ParleyStorage

/// Interactions: comments (threaded), likes and reactions, star ratings, favorites and shares on any
/// target the platform names (`post:42`, `product:sku-9`), with counters derived from the rows.
///
/// The context exists as its own target from the start so its boundary is fixed; its stores, rules and
/// routes arrive with their issue. It owns the tables named `interactions_*`.
public enum InteractionsContext {
    /// The context's migrations; none yet.
    public static let migrations = MigrationGroup(context: "interactions", migrations: [])
}
