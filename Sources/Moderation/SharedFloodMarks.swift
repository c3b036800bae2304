import Foundation
import ParleyStorage
import SQLKit

/// The flood detector's memory that every node shares, in PostgreSQL (`moderation_flood_marks`): one row per
/// inspected message (its sender, time, conversation, a hash of its normalised text, its SimHash and its mention
/// count), so a sender's windows hold however their connections are spread over nodes.
///
/// One round trip per message through `moderation_flood_inspect`, which takes a per-sender advisory lock (two
/// nodes inspecting one sender's messages take turns), counts the windows in one statement and records the message
/// in another (dropping that sender's marks older than every window). Marks of senders who went quiet are deleted
/// by `prune`, hourly.
struct SharedFloodMarks: Sendable {
    let database: Database

    /// What the windows hold once the message is counted in them. Counts stop one past their limit (a sender who
    /// floods leaves many marks, and reading all of them on every message would cost the database what the
    /// flood costs), which is all the finding needs.
    struct Counts: Sendable, Equatable {
        var sent: Int
        var inConversation: Int
        var windowMentions: Int
        var duplicate: Bool
        /// Distinct conversations of the near-duplicates (this message's own included), or 0 without a fingerprint.
        var campaign: Int
    }

    func inspect(sender: String, conversation: String?, textKey: UInt64?, fingerprint: UInt64?, mentions: Int, at now: Double,
                 settings: FloodSettings) async throws -> Counts {
        let row = try await database.sql.raw("""
            SELECT sent, in_conversation, window_mentions, duplicate, campaign FROM moderation_flood_inspect(
                \(bind: sender), \(bind: conversation), \(bind: textKey.map { Int64(bitPattern: $0) }),
                \(bind: fingerprint.map { Int64(bitPattern: $0) }), \(bind: mentions), \(bind: now),
                \(bind: settings.senderWindow), \(bind: settings.conversationWindow), \(bind: settings.duplicateTTL),
                \(bind: settings.mentionWindow), \(bind: settings.campaignWindow), \(bind: settings.nearDistance),
                \(bind: settings.senderLimit), \(bind: settings.conversationLimit), \(bind: settings.mentionLimit),
                \(bind: settings.fingerprintsPerSender))
            """).first()
        guard let row else { throw SharedFloodMarksError("moderation_flood_inspect returned no row") }
        return Counts(
            sent: try row.decode(column: "sent", as: Int.self),
            inConversation: try row.decode(column: "in_conversation", as: Int.self),
            windowMentions: try row.decode(column: "window_mentions", as: Int.self),
            duplicate: try row.decode(column: "duplicate", as: Bool.self),
            campaign: try row.decode(column: "campaign", as: Int.self)
        )
    }

    /// Deletes marks older than every window (`horizon` seconds before `now`), in batches; returns how many.
    func prune(before now: Double, horizon: Double) async throws -> Int {
        let cutoff = now - horizon
        return try await database.deleteInBatches("""
            DELETE FROM moderation_flood_marks WHERE ctid IN (
                SELECT ctid FROM moderation_flood_marks WHERE at <= \(bind: cutoff) LIMIT 5000
            )
            """, batch: 5000)
    }

    /// The table and the function, created by Moderation's migration 6 on PostgreSQL.
    static let schema = [
        """
        CREATE TABLE moderation_flood_marks (
            sender TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL,
            conversation TEXT NOT NULL,
            text_key BIGINT,
            print BIGINT,
            mentions INTEGER NOT NULL
        )
        """,
        "CREATE INDEX moderation_flood_marks_by_sender ON moderation_flood_marks (sender, at)",
        """
        CREATE FUNCTION moderation_flood_inspect(
            p_sender TEXT, p_conversation TEXT, p_text_key BIGINT, p_print BIGINT, p_mentions BIGINT, p_now DOUBLE PRECISION,
            p_sender_window DOUBLE PRECISION, p_conversation_window DOUBLE PRECISION, p_duplicate_ttl DOUBLE PRECISION,
            p_mention_window DOUBLE PRECISION, p_campaign_window DOUBLE PRECISION, p_near_distance BIGINT,
            p_sender_limit BIGINT, p_conversation_limit BIGINT, p_mention_limit BIGINT, p_prints BIGINT
        ) RETURNS TABLE (sent INTEGER, in_conversation INTEGER, window_mentions INTEGER, duplicate BOOLEAN, campaign INTEGER)
        LANGUAGE plpgsql AS $$
        DECLARE
            horizon DOUBLE PRECISION := GREATEST(p_sender_window, p_conversation_window, p_duplicate_ttl, p_mention_window,
                                                 p_campaign_window);
        BEGIN
            -- Nodes inspecting one sender's messages take turns; the statements below see what the previous one wrote.
            PERFORM pg_advisory_xact_lock(hashtextextended('moderation_flood:' || p_sender, 0));
            -- The windows before this message (newest first, each read at most one past its limit), then this message.
            SELECT
                (SELECT COUNT(*) FROM (
                    SELECT 1 FROM moderation_flood_marks m WHERE m.sender = p_sender AND m.at > p_now - p_sender_window
                    ORDER BY m.at DESC LIMIT p_sender_limit) AS recent) + 1,
                CASE WHEN p_conversation IS NULL THEN 0 ELSE (SELECT COUNT(*) FROM (
                    SELECT 1 FROM moderation_flood_marks m
                    WHERE m.sender = p_sender AND m.at > p_now - p_conversation_window AND m.conversation = p_conversation
                    ORDER BY m.at DESC LIMIT p_conversation_limit) AS recent) + 1 END,
                -- Every mark read here has a mention: limit + 1 of them are over the limit.
                (SELECT COALESCE(SUM(recent.count), 0) FROM (
                    SELECT m.mentions AS count FROM moderation_flood_marks m
                    WHERE m.sender = p_sender AND m.at > p_now - p_mention_window AND m.mentions > 0
                    ORDER BY m.at DESC LIMIT p_mention_limit + 1) AS recent) + p_mentions,
                p_text_key IS NOT NULL AND EXISTS (
                    SELECT 1 FROM moderation_flood_marks m
                    WHERE m.sender = p_sender AND m.at > p_now - p_duplicate_ttl AND m.text_key = p_text_key),
                -- The sender's latest fingerprints, as a node keeps them; Hamming distance: the ones in the XOR.
                CASE WHEN p_print IS NULL THEN 0 ELSE (SELECT COUNT(DISTINCT near.conversation) FROM (
                    (SELECT m.conversation, m.print FROM moderation_flood_marks m
                     WHERE m.sender = p_sender AND m.at > p_now - p_campaign_window AND m.print IS NOT NULL
                     ORDER BY m.at DESC LIMIT p_prints)
                    UNION ALL SELECT COALESCE(p_conversation, ''), p_print) AS near
                    WHERE length(replace(((near.print # p_print)::bit(64))::text, '0', '')) <= p_near_distance) END
            INTO sent, in_conversation, window_mentions, duplicate, campaign;
            -- Recorded whether or not it passes, and the sender's marks older than every window go.
            WITH gone AS (DELETE FROM moderation_flood_marks m WHERE m.sender = p_sender AND m.at <= p_now - horizon)
            INSERT INTO moderation_flood_marks (sender, at, conversation, text_key, print, mentions)
            VALUES (p_sender, p_now, COALESCE(p_conversation, ''), p_text_key, p_print, p_mentions);
            RETURN NEXT;
        END
        $$
        """,
    ]
}

struct SharedFloodMarksError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// FNV-1a, 64 bits: a hash of a normalised text that every node computes alike (Swift's `Hasher` is seeded per
/// process).
enum StableTextHash {
    static func of(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return hash
    }
}
