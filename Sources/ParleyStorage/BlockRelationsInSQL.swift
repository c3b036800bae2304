/// `BlockRelations` kept in the same database as the context asking, which can then ask inside a statement of its
/// own: Messaging reads a direct conversation, the sender's membership and whether either member blocks the other in
/// one round trip. Conform only when the relations live in the database the caller queries.
public protocol BlockRelationsInSQL: Sendable {
    /// A boolean SQL expression: whether `user` and the user named by `otherColumn` (a column of the caller's
    /// statement; NULL gives false) block each other either way.
    func eitherBlocksCondition(_ user: String, otherColumn: String) -> BulkSQL
}
