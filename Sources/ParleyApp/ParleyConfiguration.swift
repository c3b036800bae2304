import Events
import Foundation
import Notifications
import Logging
import Moderation
import ParleyCore
import ParleyStorage

/// Everything `parley serve` needs to know, from flags, `PARLEY_*` environment variables and defaults, in that order.
public struct ParleyConfiguration: Sendable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// Holds the SQLite file, the media folder and the generated secret.
    public var dataDirectory: String = "./parley-data"
    /// nil means the embedded SQLite file in the data directory.
    public var databaseURL: String?
    public var logLevel: Logger.Level = .info
    /// Optional: tokens the platform signs itself, with a shared HS256 secret...
    public var platformJWTSecret: String?
    /// ...or an ES256/RS256 key pair whose public key (PEM) is in this file.
    public var platformJWTPublicKeyFile: String?
    /// When set, platform-signed tokens must carry this `iss`.
    public var platformJWTIssuer: String?
    /// The platform's before-send hook: called before a message is stored; may allow, reject or rewrite it.
    public var beforeSendURL: String?
    public var beforeSendTimeoutMilliseconds = 1500
    /// What happens when the hook cannot answer: let messages through (true) or refuse them (false).
    public var beforeSendFailOpen = true
    public var beforeSendSecret: String?
    /// Jobs one process runs at once.
    public var workerConcurrency = 8
    /// Automatic pushes for chat messages to members who are away.
    public var autoPush = true
    /// Whether pushes show message text (off: only who wrote and how many).
    public var pushPreviews = true
    /// The default rate limits, with any `PARLEY_RATE_LIMITS` changes applied.
    public var rateLimitPolicy = RateLimitPolicy.defaults
    /// Moderation's flood and duplicate detection.
    public var floodDetection = true
    /// Frames one WebSocket connection may send per second (bursts up to four times as many).
    public var webSocketFramesPerSecond = 50.0
    /// The time zone analytics reports days and weeks in, besides UTC (an IANA id).
    public var analyticsTimeZone: String?
    /// A sensitive-word dictionary file (`word⇥category⇥severity⇥action⇥replacement` per line).
    public var filterDictionaryFile: String?
    /// Proxies whose `X-Forwarded-For` names the client (`PARLEY_TRUSTED_PROXIES`).
    public var trustedProxies = TrustedProxies()
    /// How long events, finished jobs, dead letters and webhook deliveries are kept.
    public var retention = RetentionSettings()

    public init() {}

    /// Applies `PARLEY_*` variables: HOST, PORT, DATA_DIR, DATABASE_URL, LOG_LEVEL, PLATFORM_JWT_SECRET,
    /// PLATFORM_JWT_PUBLIC_KEY_FILE, PLATFORM_JWT_ISSUER.
    public mutating func apply(environment: [String: String]) throws {
        if let host = environment["PARLEY_HOST"] { self.host = host }
        if let port = environment["PARLEY_PORT"] {
            guard let value = Int(port), (0...65535).contains(value) else { throw ConfigurationError("PARLEY_PORT must be a port number") }
            self.port = value
        }
        if let directory = environment["PARLEY_DATA_DIR"] { dataDirectory = directory }
        if let url = environment["PARLEY_DATABASE_URL"], !url.isEmpty { databaseURL = url }
        if let level = environment["PARLEY_LOG_LEVEL"] {
            guard let value = Logger.Level(rawValue: level.lowercased()) else {
                throw ConfigurationError("PARLEY_LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical")
            }
            logLevel = value
        }
        if let secret = environment["PARLEY_PLATFORM_JWT_SECRET"], !secret.isEmpty { platformJWTSecret = secret }
        if let file = environment["PARLEY_PLATFORM_JWT_PUBLIC_KEY_FILE"], !file.isEmpty { platformJWTPublicKeyFile = file }
        if let issuer = environment["PARLEY_PLATFORM_JWT_ISSUER"], !issuer.isEmpty { platformJWTIssuer = issuer }
        if let url = environment["PARLEY_BEFORE_SEND_URL"], !url.isEmpty {
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? "") else {
                throw ConfigurationError("PARLEY_BEFORE_SEND_URL must be an http(s) URL")
            }
            beforeSendURL = url
        }
        if let timeout = environment["PARLEY_BEFORE_SEND_TIMEOUT_MS"] {
            guard let value = Int(timeout), (1...60_000).contains(value) else {
                throw ConfigurationError("PARLEY_BEFORE_SEND_TIMEOUT_MS must be 1 to 60000")
            }
            beforeSendTimeoutMilliseconds = value
        }
        if let policy = environment["PARLEY_BEFORE_SEND_FAILURE"] {
            switch policy {
            case "open": beforeSendFailOpen = true
            case "closed": beforeSendFailOpen = false
            default: throw ConfigurationError("PARLEY_BEFORE_SEND_FAILURE must be open or closed")
            }
        }
        if let secret = environment["PARLEY_BEFORE_SEND_SECRET"], !secret.isEmpty { beforeSendSecret = secret }
        if let file = environment["PARLEY_FILTER_DICTIONARY"], !file.isEmpty {
            guard FileManager.default.isReadableFile(atPath: file) else { throw ConfigurationError("PARLEY_FILTER_DICTIONARY: cannot read \(file)") }
            filterDictionaryFile = file
        }
        if let zone = environment["PARLEY_ANALYTICS_TIME_ZONE"], !zone.isEmpty {
            guard TimeZone(identifier: zone) != nil else { throw ConfigurationError("PARLEY_ANALYTICS_TIME_ZONE: unknown time zone '\(zone)'") }
            analyticsTimeZone = zone
        }
        if let concurrency = environment["PARLEY_WORKER_CONCURRENCY"] {
            guard let value = Int(concurrency), (1...256).contains(value) else {
                throw ConfigurationError("PARLEY_WORKER_CONCURRENCY must be 1 to 256")
            }
            workerConcurrency = value
        }
        autoPush = try Self.flag(environment, "PARLEY_AUTO_PUSH") ?? autoPush
        pushPreviews = try Self.flag(environment, "PARLEY_PUSH_PREVIEWS") ?? pushPreviews
        floodDetection = try Self.flag(environment, "PARLEY_FLOOD_DETECTION") ?? floodDetection
        if let limits = environment["PARLEY_RATE_LIMITS"], !limits.isEmpty {
            rateLimitPolicy = try Self.rateLimits(limits, base: rateLimitPolicy)
        }
        if let proxies = environment["PARLEY_TRUSTED_PROXIES"] {
            do {
                trustedProxies = try TrustedProxies(parsing: proxies)
            } catch {
                throw ConfigurationError("PARLEY_TRUSTED_PROXIES: \(error)")
            }
        }
        retention.events = try Self.days(environment, "PARLEY_EVENT_RETENTION_DAYS") ?? retention.events
        retention.finishedJobs = try Self.days(environment, "PARLEY_FINISHED_JOB_RETENTION_DAYS") ?? retention.finishedJobs
        retention.deadLettersAndDeliveries = try Self.days(environment, "PARLEY_DEAD_LETTER_RETENTION_DAYS") ?? retention.deadLettersAndDeliveries
        if let frames = environment["PARLEY_WS_FRAMES_PER_SECOND"] {
            guard let value = Double(frames), value >= 1, value <= 1_000_000 else {
                throw ConfigurationError("PARLEY_WS_FRAMES_PER_SECOND must be 1 to 1000000")
            }
            webSocketFramesPerSecond = value
        }
    }

    /// A retention period in whole days (1 to 3650), as seconds; nil when the variable is unset.
    static func days(_ environment: [String: String], _ name: String) throws -> TimeInterval? {
        guard let text = environment[name], !text.isEmpty else { return nil }
        guard let days = Int(text), (1...3650).contains(days) else { throw ConfigurationError("\(name) must be a whole number of days, 1 to 3650") }
        return TimeInterval(days) * 86_400
    }

    /// `off` (no limits at all), or comma-separated `action.key=count/seconds[/burst]` changes to the defaults,
    /// e.g. `send_message.user=200/1/400,login.ip=1000/60`; `action.key=off` removes one rule.
    static func rateLimits(_ text: String, base: RateLimitPolicy) throws -> RateLimitPolicy {
        if text.lowercased() == "off" { return RateLimitPolicy(rules: [:]) }
        var policy = base
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            let target = parts.first?.split(separator: ".").map(String.init) ?? []
            guard parts.count == 2, target.count == 2, let action = RateLimitedAction(rawValue: target[0]),
                  let key = RateLimitKeyKind(rawValue: target[1]) else {
                throw ConfigurationError("PARLEY_RATE_LIMITS: '\(item)' is not action.key=count/seconds[/burst] "
                    + "(actions: \(RateLimitedAction.allCases.map(\.rawValue).joined(separator: ", ")); keys: user, ip, device, conversation)")
            }
            if parts[1].lowercased() == "off" {
                policy.rules[action]?[key] = nil
                continue
            }
            let numbers = parts[1].split(separator: "/").map { Double($0) }
            guard (2...3).contains(numbers.count), numbers.allSatisfy({ $0 != nil }), let count = numbers[0], let period = numbers[1] else {
                throw ConfigurationError("PARLEY_RATE_LIMITS: '\(item)' needs count/seconds[/burst]")
            }
            let limit: RateLimit
            do {
                limit = try RateLimit(count: Int(count), per: period, burst: numbers.count == 3 ? Int(numbers[2]!) : nil).validated()
            } catch {
                throw ConfigurationError("PARLEY_RATE_LIMITS: '\(item)': \(error.message)")
            }
            policy.rules[action, default: [:]][key] = limit
        }
        return policy
    }

    static func flag(_ environment: [String: String], _ name: String) throws -> Bool? {
        guard let raw = environment[name], !raw.isEmpty else { return nil }
        switch raw.lowercased() {
        case "on", "true", "1", "yes": return true
        case "off", "false", "0", "no": return false
        default: throw ConfigurationError("\(name) must be on or off")
        }
    }

    /// How chat messages turn into pushes.
    public var autoPushSettings: AutoPushSettings {
        AutoPushSettings(enabled: autoPush, showsContent: pushPreviews)
    }

    public var database: DatabaseConfiguration {
        if let databaseURL { return DatabaseConfiguration(urlOrPath: databaseURL) }
        return .sqlite(path: (dataDirectory as NSString).appendingPathComponent("parley.sqlite"))
    }
}

public struct ConfigurationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
