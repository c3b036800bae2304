import Foundation
import ParleyCore
import ParleyStorage

/// A person on the platform, as the platform describes them to Parley.
///
/// Parley does not own accounts: the platform upserts users through the server API and Parley keeps
/// only what it needs to show them (name, avatar) plus an opaque metadata object.
public struct User: Sendable, Equatable {
    public var id: UserID
    public var name: String
    public var avatarURL: String?
    public var metadata: [String: JSONValue]
    public var createdAt: Date
    public var updatedAt: Date
    /// Set when the platform deactivated the user; their tokens stop working from then on.
    public var deactivatedAt: Date?

    public var isActive: Bool { deactivatedAt == nil }

    public init(
        id: UserID, name: String, avatarURL: String?, metadata: [String: JSONValue],
        createdAt: Date, updatedAt: Date, deactivatedAt: Date?
    ) {
        self.id = id
        self.name = name
        self.avatarURL = avatarURL
        self.metadata = metadata
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.deactivatedAt = deactivatedAt
    }
}

/// The fields a platform sets when it upserts a user. Absent fields are cleared: an upsert replaces the profile.
public struct UserProfile: Sendable, Equatable {
    public static let maxNameLength = 200
    public static let maxAvatarURLLength = 2048
    public static let maxMetadataBytes = 16 * 1024

    public var name: String
    public var avatarURL: String?
    public var metadata: [String: JSONValue]

    /// Validates the profile; throws `request.field_too_long` or `request.invalid_field`.
    public init(name: String?, avatarURL: String?, metadata: [String: JSONValue]?) throws(ParleyError) {
        let name = name ?? ""
        guard name.count <= Self.maxNameLength else { throw ParleyError.fieldTooLong("name", limit: Self.maxNameLength) }
        if let avatarURL {
            guard avatarURL.utf8.count <= Self.maxAvatarURLLength else {
                throw ParleyError.fieldTooLong("avatar_url", limit: Self.maxAvatarURLLength)
            }
            guard let url = URL(string: avatarURL), let scheme = url.scheme?.lowercased(), scheme == "https" || scheme == "http",
                  url.host != nil else {
                throw ParleyError.invalidField("avatar_url", "must be an absolute http(s) URL")
            }
        }
        let metadata = metadata ?? [:]
        let encodedSize = (try? JSONValue.object(metadata).jsonText().utf8.count) ?? 0
        guard encodedSize <= Self.maxMetadataBytes else {
            throw ParleyError.fieldTooLong("metadata", limit: Self.maxMetadataBytes)
        }
        self.name = name
        self.avatarURL = avatarURL
        self.metadata = metadata
    }
}

extension ParleyError {
    public static func userNotFound(_ id: UserID) -> ParleyError {
        ParleyError(.notFound, code: "identity.user_not_found", message: "No user '\(id.rawValue)'.",
                    details: ["user_id": .string(id.rawValue)])
    }
}
