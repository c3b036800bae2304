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

    @Test func rfc7239ForwardedIsReadForItsForParameters() throws {
        let trusted = try TrustedProxies(parsing: "10.0.0.0/8, fd00::/8")
        // Quoted values with ports, bracketed IPv6, other parameters and several elements and header lines.
        #expect(trusted.clientAddress(peer: "10.0.0.2", forwarded: ["for=192.0.2.60;proto=http;by=203.0.113.43"], forwardedFor: [])
            == "192.0.2.60")
        #expect(trusted.clientAddress(peer: "10.0.0.2", forwarded: [#"for="[2001:db8:cafe::17]:4711""#], forwardedFor: [])
            == "2001:db8:cafe::17")
        #expect(trusted.clientAddress(peer: "10.0.0.2", forwarded: [#"For="192.0.2.43:47011", for=10.1.1.1"#], forwardedFor: [])
            == "192.0.2.43")
        #expect(trusted.clientAddress(peer: "10.0.0.2", forwarded: ["for=198.51.100.9, for=192.0.2.7", #"for="[fd00::5]""#],
                                      forwardedFor: []) == "192.0.2.7")
        // A quoted comma or semicolon does not split the element.
        #expect(trusted.clientAddress(peer: "10.0.0.2", forwarded: [#"for=192.0.2.8;host="a,b;c""#], forwardedFor: []) == "192.0.2.8")
        // Forwarded wins over X-Forwarded-For when both are present; without it X-Forwarded-For is read.
        #expect(trusted.clientAddress(peer: "10.0.0.2", forwarded: ["for=192.0.2.60"], forwardedFor: ["198.51.100.1"]) == "192.0.2.60")
        #expect(trusted.clientAddress(peer: "10.0.0.2", forwarded: [], forwardedFor: ["198.51.100.1"]) == "198.51.100.1")
        // Hidden or unknown hops, and elements without for=, stop the walk at the proxy's own address.
        #expect(trusted.clientAddress(peer: "10.0.0.2", forwarded: ["for=unknown"], forwardedFor: []) == "10.0.0.2")
        #expect(trusted.clientAddress(peer: "10.0.0.2", forwarded: ["for=_hidden"], forwardedFor: []) == "10.0.0.2")
        #expect(trusted.clientAddress(peer: "10.0.0.2", forwarded: ["proto=https"], forwardedFor: []) == "10.0.0.2")
        // Not from a trusted proxy: ignored.
        #expect(trusted.clientAddress(peer: "203.0.113.9", forwarded: ["for=192.0.2.60"], forwardedFor: []) == "203.0.113.9")
    }
}
