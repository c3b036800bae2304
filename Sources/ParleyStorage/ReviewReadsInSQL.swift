import ParleyCore

/// A read that a content policy's review will need, asked inside a statement its caller runs anyway (Messaging's
/// read before a send): on PostgreSQL a round trip and a pooled connection less per send. Conform only when the data
/// lives in the database the caller queries; `BlockRelationsInSQL` does the same for blocks.
public protocol ReviewReadsInSQL: Sendable {
    /// The read for `actor`'s submissions with `context`, or nil when there is nothing to read.
    func reviewRead(actor: String, context: [String: JSONValue]) -> ReviewReadInSQL?
}

public struct ReviewReadInSQL: Sendable {
    /// A scalar SQL expression (TEXT or NULL) for the caller's statement.
    public let expression: BulkSQL
    /// Takes the expression's value; called in the caller's `ContentReviewRun`, before the review.
    public let accept: @Sendable (String?) -> Void

    public init(expression: BulkSQL, accept: @escaping @Sendable (String?) -> Void) {
        self.expression = expression
        self.accept = accept
    }
}
