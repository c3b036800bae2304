import Hummingbird
import Logging
import ParleyCore
import Synchronization

/// The request context of every Parley HTTP route: Hummingbird's core storage, the request id,
/// and the authenticated principal once the auth middleware has run.
public struct ParleyRequestContext: RequestContext {
    /// Request bodies larger than this are refused with 413 before they are parsed.
    public static let maxBodySize = 1 << 20

    public var coreContext: CoreRequestContextStorage
    public var requestID: String = ""
    public var principal: Principal? {
        didSet { observed.setPrincipalLabel(principal?.label) }
    }
    /// Shared by every copy of this request's context, so the access log (which runs outside the auth
    /// middleware, on an earlier copy) can still name who made the request.
    let observed = ObservedRequest()

    /// The client's IP address (rate limits key on it): the socket's peer, or behind a trusted proxy the address it
    /// forwarded (`ClientAddressMiddleware`).
    public internal(set) var remoteIP: String?

    public init(source: Source) {
        coreContext = .init(source: source)
        remoteIP = source.channel.remoteAddress?.ipAddress
    }

    public var maxUploadSize: Int { Self.maxBodySize }

    /// The authenticated end user; throws when the caller is not one.
    public func requireUser() throws(ParleyError) -> (id: UserID, roles: Set<Role>) {
        switch principal {
        case .user(let id, let roles): return (id, roles)
        case .apiKey: throw ParleyError.userTokenRequired()
        case nil: throw ParleyError.missingCredentials()
        }
    }

    /// The principal, whoever it is; throws when the request is anonymous.
    public func requirePrincipal() throws(ParleyError) -> Principal {
        guard let principal else { throw ParleyError.missingCredentials() }
        return principal
    }
}

/// What outer middleware needs to read back from inner middleware of the same request.
final class ObservedRequest: Sendable {
    private let principalLabel = Mutex<String?>(nil)

    func setPrincipalLabel(_ label: String?) { principalLabel.withLock { $0 = label } }
    var principal: String? { principalLabel.withLock { $0 } }
}
