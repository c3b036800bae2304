import Foundation
import ParleyCore

/// One user blocking another: no direct messages between them, no mentions of the blocker by the blocked.
public struct Block: Sendable, Equatable {
    public var blocker: UserID
    public var blocked: UserID
    public var createdAt: Date
}
