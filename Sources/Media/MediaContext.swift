import ParleyStorage

/// Media: uploads with content sniffing and size limits, blob stores (the data folder by default,
/// S3-compatible when configured), range requests, signed URLs and thumbnails.
///
/// The context exists as its own target from the start so its boundary is fixed; its stores, rules and
/// routes arrive with their issue. It owns the tables named `media_*`.
public enum MediaContext {
    /// The context's migrations; none yet.
    public static let migrations = MigrationGroup(context: "media", migrations: [])
}
