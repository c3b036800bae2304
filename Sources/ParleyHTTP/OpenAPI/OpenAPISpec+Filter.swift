import ParleyCore

/// The documented routes of the sensitive-word dictionary administration.
extension OpenAPIBuilder {
    public mutating func addFilter() {
        add([
            OpenAPIOperation("GET", "/v1/moderation/filter/words", tag: "moderation",
                             summary: "Dictionary entries of one scope (global by default). Admins (role admin) or an admin API key.",
                             security: .either,
                             query: [("scope", "string", "global, or a conversation id"), ("limit", "integer", "1 to 200"),
                                     ("cursor", "string", "next_cursor of the previous page")],
                             responses: [(200, "A page of entries", "FilterWordPage")]),
            OpenAPIOperation("PUT", "/v1/moderation/filter/words", tag: "moderation",
                             summary: "Add or change entries; the filter is rebuilt and swapped in at once. Admins.", security: .either,
                             request: "FilterWordUpsert", responses: [(200, "How many entries changed", "FilterWordsUpdated")]),
            OpenAPIOperation("DELETE", "/v1/moderation/filter/words/{scope}/{word}", tag: "moderation",
                             summary: "Remove one entry. Admins.", security: .either, responses: [(204, "Removed", nil)]),
            OpenAPIOperation("POST", "/v1/moderation/filter/test", tag: "moderation",
                             summary: "What the filter does to a text: verdict, rewritten text, matches with spans and folds. Moderators.",
                             security: .either, request: "FilterTest", responses: [(200, "The outcome", "FilterTestResult")]),
        ], schemas: [
            "FilterWord": Schema.object([
                "scope": Schema.string, "word": Schema.string, "category": Schema.string, "severity": Schema.integer,
                "action": Schema.enumeration(["replace", "review", "reject", "allow"]), "replacement": Schema.nullableString,
            ], required: ["word", "action"]),
            "FilterWordPage": Schema.object(["items": Schema.array(Schema.ref("FilterWord")), "next_cursor": Schema.nullableString],
                                            required: ["items", "next_cursor"]),
            "FilterWordUpsert": Schema.object(["entries": Schema.array(Schema.ref("FilterWord"))], required: ["entries"]),
            "FilterWordsUpdated": Schema.object(["updated": Schema.integer], required: ["updated"]),
            "FilterTest": Schema.object(["text": Schema.string, "scope": Schema.string], required: ["text"]),
            "FilterTestResult": Schema.object([
                "verdict": Schema.enumeration(["allow", "rewrite", "review", "reject"]), "text": Schema.string,
                "matches": Schema.array(Schema.object([
                    "word": Schema.string, "category": Schema.string, "action": Schema.string, "utf8_start": Schema.integer,
                    "utf8_end": Schema.integer, "matched": Schema.string, "folds": Schema.string,
                ])),
            ], required: ["verdict", "text", "matches"]),
        ])
    }
}
