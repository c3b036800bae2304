import Foundation
import Moderation
import ParleyCore
import Testing

/// Flood windows, duplicates, copy-paste campaigns and mention floods, on a hand-moved clock.
@Suite struct FloodDetectorTests {
    func detector(_ configure: (inout FloodSettings) -> Void = { _ in }) -> (FloodDetector, ManualWallClock) {
        var settings = FloodSettings()
        configure(&settings)
        let clock = ManualWallClock()
        return (FloodDetector(settings: settings, clock: clock), clock)
    }

    @Test func aSenderOverTheConversationWindowIsAFloodUntilTheWindowSlides() {
        let (flood, clock) = detector { $0.conversationLimit = 5; $0.conversationWindow = 10 }
        for index in 0..<5 { #expect(flood.inspect(sender: "u", conversation: "c1", text: "message \(index)", mentions: 0) == .clean) }
        #expect(flood.inspect(sender: "u", conversation: "c1", text: "message 5", mentions: 0) == .flood(scope: "conversation"))
        #expect(flood.inspect(sender: "u", conversation: "c2", text: "elsewhere", mentions: 0) == .clean)
        clock.advance(by: 11)
        #expect(flood.inspect(sender: "u", conversation: "c1", text: "message 6", mentions: 0) == .clean)
    }

    @Test func aSenderOverTheGlobalWindowIsAFlood() {
        let (flood, _) = detector { $0.senderLimit = 3 }
        for index in 0..<3 { #expect(flood.inspect(sender: "u", conversation: "c\(index)", text: "hello number \(index)", mentions: 0) == .clean) }
        #expect(flood.inspect(sender: "u", conversation: "c9", text: "another", mentions: 0) == .flood(scope: "sender"))
        #expect(flood.inspect(sender: "v", conversation: "c9", text: "another", mentions: 0) == .clean)
    }

    @Test func theSameNormalisedTextWithinTheTTLIsADuplicate() {
        let (flood, clock) = detector { $0.duplicateTTL = 30 }
        #expect(flood.inspect(sender: "u", conversation: "c1", text: "Buy cheap watches", mentions: 0) == .clean)
        #expect(flood.inspect(sender: "u", conversation: "c2", text: "buy  CHEAP watches!!!", mentions: 0) == .duplicate)
        #expect(flood.inspect(sender: "v", conversation: "c1", text: "Buy cheap watches", mentions: 0) == .clean)
        #expect(flood.inspect(sender: "u", conversation: "c1", text: "ok", mentions: 0) == .clean)
        #expect(flood.inspect(sender: "u", conversation: "c1", text: "ok", mentions: 0) == .clean)
        clock.advance(by: 31)
        #expect(flood.inspect(sender: "u", conversation: "c1", text: "Buy cheap watches", mentions: 0) == .clean)
    }

    @Test func aTextSentAgainIsADuplicateUntilTheTTLAfterItsLastSending() {
        let (flood, clock) = detector { $0.duplicateTTL = 30; $0.conversationLimit = 1000 }
        #expect(flood.inspect(sender: "u", conversation: "c", text: "hello there friend", mentions: 0) == .clean)
        clock.advance(by: 20)
        #expect(flood.inspect(sender: "u", conversation: "c", text: "hello there friend", mentions: 0) == .duplicate)
        clock.advance(by: 20)  // 40 s after the first, 20 after the last
        #expect(flood.inspect(sender: "u", conversation: "c", text: "hello there friend", mentions: 0) == .duplicate)
        clock.advance(by: 31)
        #expect(flood.inspect(sender: "u", conversation: "c", text: "hello there friend", mentions: 0) == .clean)
    }

    @Test func aSenderFloodingFarPastTheLimitIsJudgedAlikeThroughoutAndForgivenWhenTheWindowPasses() {
        let (flood, clock) = detector { $0.senderLimit = 5; $0.conversationLimit = 1_000_000; $0.duplicateMinLength = 1_000 }
        var findings: [FloodFinding] = []
        for index in 0..<20_000 {
            clock.advance(by: 0.001)
            findings.append(flood.inspect(sender: "u", conversation: "c\(index % 50)", text: "spam \(index)", mentions: 0))
        }
        #expect(findings.prefix(5).allSatisfy { $0 == .clean })
        #expect(findings.dropFirst(5).allSatisfy { $0 == .flood(scope: "sender") })
        clock.advance(by: 61)
        #expect(flood.inspect(sender: "u", conversation: "c1", text: "calm again", mentions: 0) == .clean)
    }

    @Test func nearDuplicatesAcrossSeveralConversationsAreACampaign() {
        let (flood, clock) = detector { $0.campaignConversations = 4; $0.duplicateTTL = 0.001 }
        let variants = [
            "Great offer: visit cheap-pills dot example for 90% off today",
            "Great offer!! visit cheap-pills dot example for 90% off today!",
            "great offer: visit cheap pills dot example for 90% off today :)",
            "Great offer: visit cheap-pills dot example for 90 % off today",
        ]
        for (index, text) in variants.prefix(3).enumerated() {
            clock.advance(by: 1)
            #expect(flood.inspect(sender: "spammer", conversation: "c\(index)", text: text, mentions: 0) == .clean)
        }
        clock.advance(by: 1)
        #expect(flood.inspect(sender: "spammer", conversation: "c3", text: variants[3], mentions: 0) == .campaign(conversations: 4))
        // Unrelated text in yet another conversation is not part of it.
        #expect(flood.inspect(sender: "spammer", conversation: "c4", text: "see you at the meeting tomorrow morning", mentions: 0) == .clean)
    }

    @Test func theCampaignWindowForgetsOldFingerprints() {
        let (flood, clock) = detector { $0.campaignConversations = 3; $0.campaignWindow = 60; $0.duplicateTTL = 0.001 }
        let text = "join my channel for free crypto signals every day"
        #expect(flood.inspect(sender: "s", conversation: "c1", text: text, mentions: 0) == .clean)
        clock.advance(by: 30)
        #expect(flood.inspect(sender: "s", conversation: "c2", text: text, mentions: 0) == .clean)
        clock.advance(by: 45)
        #expect(flood.inspect(sender: "s", conversation: "c3", text: text, mentions: 0) == .clean)
    }

    @Test func tooManyMentionsInAMessageOrAWindowAreAMentionFlood() {
        let (flood, clock) = detector { $0.mentionsPerMessage = 5; $0.mentionLimit = 8; $0.mentionWindow = 60 }
        #expect(flood.inspect(sender: "u", conversation: "c", text: "hi all", mentions: 6) == .mentionFlood(count: 6, scope: "message"))
        let (flood2, clock2) = detector { $0.mentionsPerMessage = 5; $0.mentionLimit = 8; $0.mentionWindow = 60 }
        #expect(flood2.inspect(sender: "u", conversation: "c", text: "one", mentions: 4) == .clean)
        #expect(flood2.inspect(sender: "u", conversation: "c", text: "two", mentions: 4) == .clean)
        #expect(flood2.inspect(sender: "u", conversation: "c", text: "three", mentions: 1) == .mentionFlood(count: 9, scope: "window"))
        clock2.advance(by: 61)
        #expect(flood2.inspect(sender: "u", conversation: "c", text: "four", mentions: 4) == .clean)
        _ = clock
    }

    @Test func trackedSendersStayBounded() {
        let (flood, clock) = detector { $0.maxSenders = 50 }
        for index in 0..<500 {
            clock.advance(by: 0.01)
            _ = flood.inspect(sender: "u\(index)", conversation: "c", text: "hello there \(index)", mentions: 0)
        }
        #expect(flood.trackedSenders <= 50)
    }

    @Test func simHashIsCloseForSmallEditsAndFarForDifferentTexts() {
        let a = SimHash.fingerprint(DuplicateText.normalise("the quick brown fox jumps over the lazy dog"))
        let b = SimHash.fingerprint(DuplicateText.normalise("the quick brown fox jumped over the lazy dog"))
        let c = SimHash.fingerprint(DuplicateText.normalise("completely unrelated sentence about databases"))
        #expect(SimHash.distance(a, b) <= 10)
        #expect(SimHash.distance(a, c) > 16)
        #expect(SimHash.fingerprint("") == 0)
        let cjk1 = SimHash.fingerprint("加我微信领取免费红包每天都有")
        let cjk2 = SimHash.fingerprint("加我微信领取免费红包每天都有哦")
        #expect(SimHash.distance(cjk1, cjk2) <= 10)
    }

    @Test func hugeAndPathologicalTextsStayCheap() {
        let (flood, _) = detector()
        let huge = String(repeating: "a", count: 200_000)
        #expect(flood.inspect(sender: "u", conversation: "c", text: huge, mentions: 0) == .clean)
        #expect(flood.inspect(sender: "u", conversation: "c", text: "", mentions: 0) == .clean)
    }
}
