import Messaging
import ParleyCore
import Testing

/// Text bodies: blank texts are refused whatever the whitespace, and the length limit counts characters, not bytes
/// (the validation takes shortcuts for the common case; these are the cases around them).
@Suite struct MessageDraftValidationTests {
    @Test(arguments: ["", " ", "   ", "\n\t\r", "\u{3000}", "\u{00A0}\u{2028}", "\u{2003}\u{0085}\u{000B}"])
    func blankTextsAreRefused(_ text: String) {
        #expect(throws: ParleyError.self) { try MessageDraft.validate(kind: .text, body: ["text": .string(text)]) }
    }

    @Test(arguments: [" a", "\u{3000}你好", "a", "\n\nhi\n"])
    func textsWithSomethingVisibleAreAccepted(_ text: String) throws {
        try MessageDraft.validate(kind: .text, body: ["text": .string(text)])
    }

    @Test func theLimitCountsCharactersNotBytes() throws {
        let limit = MessageDraft.maxTextLength
        // Two bytes each: over the limit in bytes, at the limit in characters.
        try MessageDraft.validate(kind: .text, body: ["text": .string(String(repeating: "é", count: limit))])
        #expect(throws: ParleyError.self) {
            try MessageDraft.validate(kind: .text, body: ["text": .string(String(repeating: "é", count: limit + 1))])
        }
        #expect(throws: ParleyError.self) {
            try MessageDraft.validate(kind: .text, body: ["text": .string(String(repeating: "a", count: limit + 1))])
        }
        try MessageDraft.validate(kind: .text, body: ["text": .string(String(repeating: "a", count: limit))])
    }

    @Test func repeatedMentionsAreKeptOnceInFirstOrder() throws {
        let draft = try MessageDraft(conversationID: "c", clientMsgID: nil, kind: .text, body: ["text": "hi"],
                                     mentions: ["bob", "@all", "alice", "bob", "@all"])
        #expect(draft.mentions == ["bob", "@all", "alice"])
    }
}
