import Foundation
import Moderation
import ParleyCore
import Testing

/// GCRA limits: bursts, refill, retry-after, keys, bounds. Time only moves by hand.
@Suite struct RateLimiterTests {
    let alice = UserID(trusted: "alice")

    func limiter(_ rules: [RateLimitedAction: [RateLimitKeyKind: RateLimit]], clock: ManualWallClock, maxKeys: Int = 100_000) -> GCRARateLimiter {
        GCRARateLimiter(policy: RateLimitPolicy(rules: rules), clock: clock, maxKeys: maxKeys)
    }

    func passes(_ limiter: GCRARateLimiter, _ keys: RateLimitKeys) async -> Bool {
        await passes(limiter, .sendMessage, keys)
    }

    func passes(_ limiter: GCRARateLimiter, _ action: RateLimitedAction, _ keys: RateLimitKeys) async -> Bool {
        do {
            try await limiter.check(action, keys: keys)
            return true
        } catch {
            return false
        }
    }

    @Test func aBurstPassesThenTheNextRequestIsRefusedWithRetryAfter() async throws {
        let clock = ManualWallClock()
        let limiter = limiter([.report: [.user: RateLimit(count: 10, per: 3600)]], clock: clock)
        for _ in 0..<10 { try await limiter.check(.report, keys: RateLimitKeys(user: alice)) }
        do {
            try await limiter.check(.report, keys: RateLimitKeys(user: alice))
            Issue.record("the eleventh report passed")
        } catch let error as ParleyError {
            #expect(error.kind == .rateLimited)
            #expect(error.code == "moderation.rate_limited")
            #expect(error.retryAfter == 360)
            #expect(error.details["key"] == "user")
        }
    }

    @Test func theAllowanceRefillsAtTheSustainedRate() async throws {
        let clock = ManualWallClock()
        let limiter = limiter([.sendMessage: [.user: RateLimit(count: 20, per: 1, burst: 40)]], clock: clock)
        let keys = RateLimitKeys(user: alice)
        for _ in 0..<40 { #expect(await passes(limiter, keys)) }
        #expect(!(await passes(limiter, keys)))
        clock.advance(by: 0.05)  // one emission interval
        #expect(await passes(limiter, keys))
        #expect(!(await passes(limiter, keys)))
        clock.advance(by: 2)  // full again: 40 more
        for _ in 0..<40 { #expect(await passes(limiter, keys)) }
        #expect(!(await passes(limiter, keys)))
    }

    @Test func aRefusedRequestConsumesNothingOnAnyKey() async throws {
        let clock = ManualWallClock()
        let limiter = limiter([.sendMessage: [.user: RateLimit(count: 2, per: 60), .conversation: RateLimit(count: 3, per: 60)]], clock: clock)
        let bob = UserID(trusted: "bob")
        #expect(await passes(limiter, RateLimitKeys(user: alice, conversation: "c1")))
        #expect(await passes(limiter, RateLimitKeys(user: alice, conversation: "c1")))
        // Alice is out; her refused sends must not use up the conversation's allowance.
        for _ in 0..<5 { #expect(!(await passes(limiter, RateLimitKeys(user: alice, conversation: "c1")))) }
        #expect(await passes(limiter, RateLimitKeys(user: bob, conversation: "c1")))
        #expect(!(await passes(limiter, RateLimitKeys(user: bob, conversation: "c1"))))
    }

    @Test func ipv6AddressesShareALimitPerSlash64AndIPv4PerAddress() async throws {
        let clock = ManualWallClock()
        let limiter = limiter([.login: [.ip: RateLimit(count: 2, per: 60)]], clock: clock)
        #expect(await passes(limiter, .login, RateLimitKeys(ip: "2001:db8:1:2::1")))
        #expect(await passes(limiter, .login, RateLimitKeys(ip: "2001:db8:1:2:ffff:ffff:ffff:ffff")))
        #expect(!(await passes(limiter, .login, RateLimitKeys(ip: "[2001:0db8:0001:0002::abcd%eth0]"))))
        #expect(await passes(limiter, .login, RateLimitKeys(ip: "2001:db8:1:3::1")))
        #expect(await passes(limiter, .login, RateLimitKeys(ip: "192.0.2.1")))
        #expect(await passes(limiter, .login, RateLimitKeys(ip: "::ffff:192.0.2.1")))
        #expect(!(await passes(limiter, .login, RateLimitKeys(ip: "192.0.2.1"))))
        #expect(await passes(limiter, .login, RateLimitKeys(ip: "192.0.2.2")))
    }

    @Test func ipKeysAreNormalised() {
        #expect(IPKey.key(for: "2001:DB8::1") == "v6:2001:db8:0:0::/64")
        #expect(IPKey.key(for: "::1") == "v6:0:0:0:0::/64")
        #expect(IPKey.key(for: "10.0.0.1") == "v4:10.0.0.1")
        #expect(IPKey.key(for: "::ffff:10.0.0.1") == "v4:10.0.0.1")
        #expect(IPKey.key(for: "not an ip") == nil)
        #expect(IPKey.key(for: "1:2:3:4:5:6:7:8:9") == nil)
        #expect(IPKey.key(for: "1::2::3") == nil)
        #expect(IPKey.key(for: "256.1.1.1") == nil)
    }

    @Test func actionsWithoutRulesAndMissingKeysAreNotLimited() async throws {
        let clock = ManualWallClock()
        let limiter = limiter([.login: [.ip: RateLimit(count: 1, per: 60)]], clock: clock)
        for _ in 0..<10 { #expect(await passes(limiter, .upload, RateLimitKeys(user: alice))) }
        for _ in 0..<10 { #expect(await passes(limiter, .login, RateLimitKeys(user: alice))) }
    }

    @Test func stateStaysBoundedByEvictingKeysThatRefilled() async throws {
        let clock = ManualWallClock()
        let limiter = limiter([.sendMessage: [.device: RateLimit(count: 1, per: 1)]], clock: clock, maxKeys: 100)
        for index in 0..<1000 {
            try await limiter.check(.sendMessage, keys: RateLimitKeys(device: "d\(index)"))
            clock.advance(by: 0.01)
        }
        #expect(limiter.trackedKeys <= 100)
    }
}
