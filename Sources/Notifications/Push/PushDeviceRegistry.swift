import Foundation
import ParleyCore
import ParleyStorage
import SQLKit

/// What a user sends to register a phone app install or a browser push subscription.
public struct PushDeviceRegistration: Sendable, Equatable {
    public var platform: PushPlatform
    public var token: String
    public var p256dh: String?
    public var auth: String?
    public var appID: String?
    public var sandbox: Bool
    public var locale: String?

    public init(platform: PushPlatform, token: String, p256dh: String? = nil, auth: String? = nil, appID: String? = nil,
                sandbox: Bool = false, locale: String? = nil) {
        self.platform = platform
        self.token = token
        self.p256dh = p256dh
        self.auth = auth
        self.appID = appID
        self.sandbox = sandbox
        self.locale = locale
    }
}

/// Which Web Push endpoints Parley will POST to. A subscription's endpoint comes from the user's browser,
/// so without a limit any user could make Parley send requests to an internal address (SSRF).
public struct WebPushEndpointPolicy: Sendable {
    /// Host suffixes of the browsers' push services (Chrome/FCM, Firefox, Edge/WNS, Safari).
    public static let browserPushServices = [
        "fcm.googleapis.com", "push.services.mozilla.com", "notify.windows.com", "push.apple.com",
    ]

    public var allowedHostSuffixes: [String]
    /// Plain `http` endpoints: only for tests and private push services on a trusted network.
    public var allowsHTTP: Bool

    public init(allowedHostSuffixes: [String] = WebPushEndpointPolicy.browserPushServices, allowsHTTP: Bool = false) {
        self.allowedHostSuffixes = allowedHostSuffixes
        self.allowsHTTP = allowsHTTP
    }

    func allows(_ url: URL) -> Bool {
        guard let scheme = url.scheme?.lowercased(), scheme == "https" || (allowsHTTP && scheme == "http"),
              let host = url.host?.lowercased(), !host.isEmpty else { return false }
        return allowedHostSuffixes.contains { suffix in
            let suffix = suffix.lowercased()
            return host == suffix || host.hasSuffix("." + suffix)
        }
    }
}

/// The push devices and subscriptions of users, and the email address Notifications sends to.
///
/// A token belongs to one user: registering a token another user had moves it (the phone changed hands,
/// or someone else logged in on it), so a push never reaches the previous owner. Each user keeps at most
/// `maxDevicesPerUser`; registering one more forgets the one used least recently.
public struct PushDeviceRegistry: Sendable {
    public static let maxTokenBytes = 4096

    let database: Database
    let clock: any WallClock
    let ids: any IDGenerator
    public let maxDevicesPerUser: Int
    public let webPushPolicy: WebPushEndpointPolicy

    public init(database: Database, clock: any WallClock, ids: any IDGenerator, maxDevicesPerUser: Int = 20,
                webPushPolicy: WebPushEndpointPolicy = WebPushEndpointPolicy()) {
        self.database = database
        self.clock = clock
        self.ids = ids
        self.maxDevicesPerUser = max(1, maxDevicesPerUser)
        self.webPushPolicy = webPushPolicy
    }

    // MARK: Devices

    /// Registers (or refreshes) a device for `user`. Throws `request.invalid_field` for a malformed token,
    /// endpoint or key.
    public func register(_ registration: PushDeviceRegistration, for user: UserID) async throws -> PushDevice {
        try validate(registration)
        let now = clock.now().unixMilliseconds
        let newID = ids.next(prefix: "dev_")
        return try await database.transaction { sql in
            let row = try await sql.raw("""
                INSERT INTO notifications_push_devices (id, user_id, platform, token, p256dh, auth, app_id, sandbox, locale,
                    created_at, updated_at, last_used_at)
                VALUES (\(bind: newID), \(bind: user.rawValue), \(bind: registration.platform.rawValue), \(bind: registration.token),
                    \(bind: registration.p256dh), \(bind: registration.auth), \(bind: registration.appID), \(bind: registration.sandbox),
                    \(bind: registration.locale), \(bind: now), \(bind: now), NULL)
                ON CONFLICT (platform, token) DO UPDATE SET user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth,
                    app_id = excluded.app_id, sandbox = excluded.sandbox, locale = excluded.locale, updated_at = excluded.updated_at
                RETURNING *
                """).first()
            guard let row else { throw ParleyError(.internal, code: "internal", message: "The device was not stored.") }
            let device = try Self.decode(row)
            // Over the cap: forget the least recently used or refreshed ones (never the one just registered).
            let ids = try await sql.raw("""
                SELECT id FROM notifications_push_devices WHERE user_id = \(bind: user.rawValue) AND id <> \(bind: device.id)
                ORDER BY COALESCE(last_used_at, updated_at) DESC, id DESC
                """).all().map { try $0.decode(column: "id", as: String.self) }
            let surplus = ids.dropFirst(maxDevicesPerUser - 1)
            if !surplus.isEmpty {
                try await sql.raw("DELETE FROM notifications_push_devices WHERE id IN (\(SQLList(surplus.map { SQLBind($0) })))").run()
            }
            return device
        }
    }

    /// The devices of `user`, newest first.
    public func devices(of user: UserID) async throws -> [PushDevice] {
        try await devices(of: user, on: database.sql)
    }

    func devices(of user: UserID, on sql: any SQLDatabase) async throws -> [PushDevice] {
        try await sql.raw("""
            SELECT * FROM notifications_push_devices WHERE user_id = \(bind: user.rawValue) ORDER BY created_at DESC, id DESC
            """).all().map(Self.decode)
    }

    /// Forgets one of `user`'s devices. Throws `notifications.device_not_found` when it is not theirs.
    public func remove(deviceID: String, of user: UserID) async throws {
        let removed = try await database.transaction { sql in
            try await sql.raw("""
                DELETE FROM notifications_push_devices WHERE id = \(bind: deviceID) AND user_id = \(bind: user.rawValue) RETURNING id
                """).all()
        }
        guard !removed.isEmpty else { throw ParleyError.deviceNotFound(deviceID) }
    }

    /// Forgets a device the push service called invalid (uninstalled app, expired subscription).
    func forget(_ device: PushDevice) async throws {
        try await database.transaction { sql in
            try await sql.raw("DELETE FROM notifications_push_devices WHERE id = \(bind: device.id)").run()
        }
    }

    func markUsed(_ devices: [PushDevice]) async throws {
        guard !devices.isEmpty else { return }
        let now = clock.now().unixMilliseconds
        try await database.transaction { sql in
            try await sql.raw("""
                UPDATE notifications_push_devices SET last_used_at = \(bind: now)
                WHERE id IN (\(SQLList(devices.map { SQLBind($0.id) })))
                """).run()
        }
    }

    /// Of `users`, those with at least one device.
    func usersWithDevices(among users: [UserID], on sql: any SQLDatabase) async throws -> Set<UserID> {
        var result: Set<UserID> = []
        for chunk in users.chunked(into: 500) {
            let rows = try await sql.raw("""
                SELECT DISTINCT user_id FROM notifications_push_devices WHERE user_id IN (\(SQLList(chunk.map { SQLBind($0.rawValue) })))
                """).all()
            for row in rows { result.insert(UserID(trusted: try row.decode(column: "user_id", as: String.self))) }
        }
        return result
    }

    // MARK: Email addresses

    /// Sets the address email notifications go to. The platform owns and verifies addresses, so only the
    /// server API sets them.
    public func setEmail(_ address: String, for user: UserID) async throws {
        guard EmailAddress.isValid(address) else { throw ParleyError.invalidField("email", "an address like name@example.com") }
        let now = clock.now().unixMilliseconds
        try await database.transaction { sql in
            try await sql.raw("""
                INSERT INTO notifications_email_addresses (user_id, address, updated_at) VALUES (\(bind: user.rawValue), \(bind: address), \(bind: now))
                ON CONFLICT (user_id) DO UPDATE SET address = excluded.address, updated_at = excluded.updated_at
                """).run()
        }
    }

    public func email(of user: UserID) async throws -> String? {
        try await database.sql.raw("SELECT address FROM notifications_email_addresses WHERE user_id = \(bind: user.rawValue)")
            .first()?.decode(column: "address", as: String.self)
    }

    public func removeEmail(of user: UserID) async throws {
        try await database.transaction { sql in
            try await sql.raw("DELETE FROM notifications_email_addresses WHERE user_id = \(bind: user.rawValue)").run()
        }
    }

    /// Of `users`, those with an email address.
    func usersWithEmail(among users: [UserID], on sql: any SQLDatabase) async throws -> Set<UserID> {
        var result: Set<UserID> = []
        for chunk in users.chunked(into: 500) {
            let rows = try await sql.raw("""
                SELECT user_id FROM notifications_email_addresses WHERE user_id IN (\(SQLList(chunk.map { SQLBind($0.rawValue) })))
                """).all()
            for row in rows { result.insert(UserID(trusted: try row.decode(column: "user_id", as: String.self))) }
        }
        return result
    }

    // MARK: Validation and decoding

    func validate(_ registration: PushDeviceRegistration) throws(ParleyError) {
        let token = registration.token
        guard !token.isEmpty, token.utf8.count <= Self.maxTokenBytes else {
            throw ParleyError.invalidField("token", "1 to \(Self.maxTokenBytes) bytes")
        }
        guard token.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw ParleyError.invalidField("token", "printable ASCII without spaces")
        }
        if let appID = registration.appID, appID.isEmpty || appID.utf8.count > 200 {
            throw ParleyError.invalidField("app_id", "1 to 200 bytes")
        }
        if let locale = registration.locale, locale.isEmpty || locale.utf8.count > 35 {
            throw ParleyError.invalidField("locale", "a BCP 47 tag of at most 35 bytes")
        }
        switch registration.platform {
        case .apns:
            // APNs device tokens are 32 bytes today, written as hex; allow longer ones Apple may issue.
            guard token.utf8.count % 2 == 0, token.utf8.count >= 64, token.utf8.count <= 200, token.utf8.allSatisfy(\.isHexDigit) else {
                throw ParleyError.invalidField("token", "an APNs device token in hex (64 to 200 digits)")
            }
        case .fcm:
            break
        case .webpush:
            guard let url = URL(string: token), webPushPolicy.allows(url) else {
                throw ParleyError.invalidField("endpoint", "the https endpoint of a browser push service")
            }
            guard let p256dh = registration.p256dh, let key = Data(base64URLEncoded: p256dh), key.count == 65, key.first == 0x04 else {
                throw ParleyError.invalidField("keys.p256dh", "the subscription's P-256 public key (65 bytes, base64url)")
            }
            guard let auth = registration.auth, let secret = Data(base64URLEncoded: auth), secret.count == 16 else {
                throw ParleyError.invalidField("keys.auth", "the subscription's 16-byte auth secret (base64url)")
            }
        }
        if registration.platform != .webpush, registration.p256dh != nil || registration.auth != nil {
            throw ParleyError.invalidField("keys", "only Web Push subscriptions have keys")
        }
    }

    static func decode(_ row: any SQLRow) throws -> PushDevice {
        PushDevice(
            id: try row.decode(column: "id", as: String.self),
            user: UserID(trusted: try row.decode(column: "user_id", as: String.self)),
            platform: PushPlatform(rawValue: try row.decode(column: "platform", as: String.self)) ?? .fcm,
            token: try row.decode(column: "token", as: String.self),
            p256dh: try row.decodeOptional("p256dh", as: String.self),
            auth: try row.decodeOptional("auth", as: String.self),
            appID: try row.decodeOptional("app_id", as: String.self),
            sandbox: try row.decode(column: "sandbox", as: Bool.self),
            locale: try row.decodeOptional("locale", as: String.self),
            createdAt: try row.decodeDate("created_at"),
            lastUsedAt: try row.decodeOptionalDate("last_used_at")
        )
    }
}

extension UInt8 {
    var isHexDigit: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(self)
    }
}

/// A deliberately plain address check: one `@`, a dotted domain, no spaces or control characters, at most
/// 254 bytes (RFC 5321). The platform verifies ownership; this only keeps garbage out of SMTP commands.
enum EmailAddress {
    static func isValid(_ address: String) -> Bool {
        guard address.utf8.count <= 254, !address.isEmpty else { return false }
        guard address.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F && !"<>()[],;:\\\"".unicodeScalars.contains($0) })
        else { return false }
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].utf8.count <= 64 else { return false }
        let labels = parts[1].split(separator: ".", omittingEmptySubsequences: false)
        return labels.count >= 2 && labels.allSatisfy { !$0.isEmpty && $0.utf8.count <= 63 }
    }
}
