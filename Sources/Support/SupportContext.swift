import ParleyStorage

/// Support: customer-service tickets linked to conversations, assignment to agents, SLAs, internal
/// notes and CSAT surveys.
///
/// The context exists as its own target from the start so its boundary is fixed; its stores, rules and
/// routes arrive with their issue. It owns the tables named `support_*`.
public enum SupportContext {
    /// The context's migrations; none yet.
    public static let migrations = MigrationGroup(context: "support", migrations: [])
}
