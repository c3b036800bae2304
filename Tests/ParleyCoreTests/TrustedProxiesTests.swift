import ParleyCore
import Testing

/// Which address is the client's when proxies forward it (`PARLEY_TRUSTED_PROXIES`).
@Suite struct TrustedProxiesTests {
    @Test func addressesAndRangesOfBothFamiliesAreMatched() throws {
        let trusted = try TrustedProxies(parsing: "10.0.0.0/8, 192.168.1.7, fd00::/8, ::1")
        #expect(trusted.contains("10.200.3.4"))
        #expect(!trusted.contains("11.0.0.1"))
        #expect(trusted.contains("192.168.1.7"))
        #expect(!trusted.contains("192.168.1.8"))
        #expect(trusted.contains("fd12:3456::1"))
        #expect(!trusted.contains("fe80::1"))
        #expect(trusted.contains("::1"))
        #expect(trusted.contains("::ffff:10.1.2.3"))  // IPv4-mapped counts as IPv4
        #expect(!trusted.contains("not an address"))
        #expect(try TrustedProxies(parsing: "172.16.0.0/12").contains("172.31.255.255"))
        #expect(try !TrustedProxies(parsing: "172.16.0.0/12").contains("172.32.0.0"))
    }

    @Test(arguments: ["10.0.0.0/33", "10.0.0/8", "example.com", "::1/129", "1.2.3.4/-1"])
    func malformedEntriesAreRefused(text: String) {
        #expect(throws: TrustedProxiesError.self) { try TrustedProxies(parsing: text) }
    }

    @Test func theClientIsTheRightMostForwardedAddressThatIsNotAProxy() throws {
        let trusted = try TrustedProxies(parsing: "10.0.0.0/8")
        // Not from a trusted proxy: whatever the header claims, the peer is the client.
        #expect(trusted.clientAddress(peer: "203.0.113.9", forwardedFor: ["198.51.100.1"]) == "203.0.113.9")
        // From the proxy: the address it saw.
        #expect(trusted.clientAddress(peer: "10.0.0.2", forwardedFor: ["198.51.100.1"]) == "198.51.100.1")
        // A forged left part is skipped; chained proxies (10.x) are walked through; several header lines join in order.
        #expect(trusted.clientAddress(peer: "10.0.0.2", forwardedFor: ["1.1.1.1, 198.51.100.1", "10.0.0.5"]) == "198.51.100.1")
        // No header, or a garbled one: the proxy's own address.
        #expect(trusted.clientAddress(peer: "10.0.0.2", forwardedFor: []) == "10.0.0.2")
        #expect(trusted.clientAddress(peer: "10.0.0.2", forwardedFor: ["unknown"]) == "10.0.0.2")
        // Trusting nobody (the default) changes nothing.
        #expect(TrustedProxies().clientAddress(peer: "10.0.0.2", forwardedFor: ["198.51.100.1"]) == "10.0.0.2")
    }
}
