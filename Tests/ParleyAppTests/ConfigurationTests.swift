import Events
import Foundation
import Moderation
import ParleyApp
import ParleyCore
import Testing

/// `PARLEY_*` settings for risk limits and pushes: applied when valid, refused with a clear message otherwise.
@Suite struct ConfigurationTests {
    @Test func retentionPeriodsComeFromTheEnvironmentInDays() throws {
        var configuration = ParleyConfiguration()
        #expect(configuration.retention == RetentionSettings())
        try configuration.apply(environment: [
            "PARLEY_EVENT_RETENTION_DAYS": "7", "PARLEY_FINISHED_JOB_RETENTION_DAYS": "1", "PARLEY_DEAD_LETTER_RETENTION_DAYS": "90",
        ])
        #expect(configuration.retention.events == 7 * 86_400)
        #expect(configuration.retention.finishedJobs == 86_400)
        #expect(configuration.retention.deadLettersAndDeliveries == 90 * 86_400)
    }

    @Test func trustedProxiesComeFromTheEnvironment() throws {
        var configuration = ParleyConfiguration()
        #expect(configuration.trustedProxies.isEmpty)
        try configuration.apply(environment: ["PARLEY_TRUSTED_PROXIES": "10.0.0.0/8, ::1"])
        #expect(configuration.trustedProxies.contains("10.1.2.3"))
        #expect(configuration.trustedProxies.contains("::1"))
        #expect(!configuration.trustedProxies.contains("8.8.8.8"))
    }

    @Test func rateLimitsFloodDetectionAndFrameRatesComeFromTheEnvironment() throws {
        var configuration = ParleyConfiguration()
        try configuration.apply(environment: [
            "PARLEY_RATE_LIMITS": "send_message.user=500/1/1000, send_message.conversation=off, login.ip=1000/60",
            "PARLEY_FLOOD_DETECTION": "off", "PARLEY_WS_FRAMES_PER_SECOND": "2000", "PARLEY_PUSH_PREVIEWS": "off",
        ])
        #expect(configuration.rateLimitPolicy.rules[.sendMessage]?[.user] == RateLimit(count: 500, per: 1, burst: 1000))
        #expect(configuration.rateLimitPolicy.rules[.sendMessage]?[.conversation] == nil)
        #expect(configuration.rateLimitPolicy.rules[.login]?[.ip] == RateLimit(count: 1000, per: 60))
        // Rules not mentioned keep their defaults.
        #expect(configuration.rateLimitPolicy.rules[.report] == RateLimitPolicy.defaults.rules[.report])
        #expect(!configuration.floodDetection)
        #expect(configuration.webSocketFramesPerSecond == 2000)
        #expect(!configuration.autoPushSettings.showsContent)
        #expect(configuration.autoPushSettings.enabled)

        var off = ParleyConfiguration()
        try off.apply(environment: ["PARLEY_RATE_LIMITS": "off"])
        #expect(off.rateLimitPolicy.rules.isEmpty)
    }

    @Test(arguments: [
        ["PARLEY_RATE_LIMITS": "send_message=5/1"], ["PARLEY_RATE_LIMITS": "fly.user=5/1"], ["PARLEY_RATE_LIMITS": "login.ip=0/60"],
        ["PARLEY_RATE_LIMITS": "login.ip=ten/60"], ["PARLEY_FLOOD_DETECTION": "maybe"], ["PARLEY_WS_FRAMES_PER_SECOND": "0"],
        ["PARLEY_AUTO_PUSH": "sometimes"], ["PARLEY_EVENT_RETENTION_DAYS": "0"], ["PARLEY_FINISHED_JOB_RETENTION_DAYS": "a week"],
        ["PARLEY_DEAD_LETTER_RETENTION_DAYS": "4000"], ["PARLEY_TRUSTED_PROXIES": "10.0.0.0/8, proxy.internal"],
    ])
    func badSettingsAreRefusedByName(environment: [String: String]) throws {
        var configuration = ParleyConfiguration()
        let error = #expect(throws: ConfigurationError.self) { try configuration.apply(environment: environment) }
        #expect(error?.description.contains(environment.keys.first!) == true)
    }
}
