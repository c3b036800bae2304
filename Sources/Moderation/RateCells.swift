import Foundation
import ParleyStorage
import SQLKit
import Synchronization

/// One key a request is limited by, with the limit that applies to it (GCRA terms).
struct RateCell: Sendable, Equatable {
    /// `action|kind:value`, the same on every node.
    var key: String
    var kind: RateLimitKeyKind
    /// Seconds between two requests at the sustained rate.
    var interval: Double
    /// Requests that may pass back to back.
    var burst: Int
}

/// Which key refused a request, and how long until it would pass.
struct RateDenial: Sendable, Equatable {
    var kind: RateLimitKeyKind
    var wait: Double
}

/// GCRA over one set of theoretical arrival times (TATs): a request is admitted when, for every cell, the
/// cell's next TAT is no more than `burst` intervals ahead of now; then every cell's TAT moves, else none does.
enum GCRA {
    /// Each cell's TAT after the request (in `cells` order), and the worst denial if any cell has no room.
    /// `current` gives a cell's TAT (nil: never seen, i.e. full).
    static func plan(_ cells: [RateCell], at now: Double, current: (String) -> Double?) -> (nexts: [Double], denial: RateDenial?) {
        var nexts: [Double] = []
        nexts.reserveCapacity(cells.count)
        var worst: RateDenial?
        for cell in cells {
            let next = max(current(cell.key) ?? now, now) + cell.interval
            let allowAt = next - Double(cell.burst) * cell.interval
            if now < allowAt - 1e-9 {
                let wait = allowAt - now
                if worst == nil || wait > worst!.wait { worst = RateDenial(kind: cell.kind, wait: wait) }
            }
            nexts.append(next)
        }
        return (nexts, worst)
    }
}

/// This node's TATs, in memory. Bounded: at `maxKeys` entries, keys whose allowance is full again (and so carry
/// no information) are dropped, then the ones that refill soonest.
final class LocalRateCells: Sendable {
    private let arrivals = Mutex<[String: Double]>([:])
    let maxKeys: Int

    init(maxKeys: Int) {
        self.maxKeys = max(16, maxKeys)
    }

    var count: Int { arrivals.withLock { $0.count } }

    /// Admits the request if every cell has room (and records it), else returns the worst denial.
    func admit(_ cells: [RateCell], at now: Double) -> RateDenial? {
        arrivals.withLock { arrivals in
            let plan = GCRA.plan(cells, at: now, current: { arrivals[$0] })
            if let denial = plan.denial { return denial }
            store(plan.nexts, of: cells, in: &arrivals, now: now)
            return nil
        }
    }

    /// The denial `admit` would give, without recording anything.
    func denial(_ cells: [RateCell], at now: Double) -> RateDenial? {
        arrivals.withLock { arrivals in GCRA.plan(cells, at: now, current: { arrivals[$0] }).denial }
    }

    /// Counts a request another authority admitted (the shared cells) against this node's cells too, so that
    /// this node's TATs never run ahead of the shared ones: what this node refuses, the shared cells would refuse.
    func record(_ cells: [RateCell], at now: Double) {
        arrivals.withLock { arrivals in
            store(GCRA.plan(cells, at: now, current: { arrivals[$0] }).nexts, of: cells, in: &arrivals, now: now)
        }
    }

    private func store(_ nexts: [Double], of cells: [RateCell], in arrivals: inout [String: Double], now: Double) {
        for (cell, next) in zip(cells, nexts) { arrivals[cell.key] = next }
        if arrivals.count > maxKeys { evict(&arrivals, now: now) }
    }

    private func evict(_ arrivals: inout [String: Double], now: Double) {
        arrivals = arrivals.filter { $0.value > now }
        let target = maxKeys * 9 / 10
        guard arrivals.count > target else { return }
        for (key, _) in arrivals.sorted(by: { $0.value < $1.value }).prefix(arrivals.count - target) {
            arrivals.removeValue(forKey: key)
        }
    }
}

/// The TATs every node shares, in PostgreSQL (`moderation_rate_cells`): one round trip per request, through
/// `moderation_rate_admit`, which locks the request's rows in key order (so concurrent requests never deadlock),
/// applies the same GCRA and moves every TAT or none.
struct SharedRateCells: Sendable {
    let database: Database

    /// Admits the request if every cell has room on every node's count (and records it), else returns the worst
    /// denial. Throws when the database does not answer.
    func admit(_ cells: [RateCell], at now: Double) async throws -> RateDenial? {
        guard !cells.isEmpty else { return nil }
        // Sorted by key: the function locks rows in this order.
        let sorted = cells.sorted { $0.key < $1.key }
        let row = try await database.sql.raw("""
            SELECT denied, wait FROM moderation_rate_admit(\(bind: sorted.map(\.key)), \(bind: sorted.map(\.interval)),
                \(bind: sorted.map { Double($0.burst) }), \(bind: now))
            """).first()
        guard let row else { throw SharedRateCellsError("moderation_rate_admit returned no row") }
        let denied = try row.decode(column: "denied", as: Int.self)
        guard denied > 0, denied <= sorted.count else { return nil }
        return RateDenial(kind: sorted[denied - 1].kind, wait: try row.decode(column: "wait", as: Double.self))
    }

    /// Deletes keys whose allowance was full again before `now` (absent means full), in batches; returns how many.
    func prune(before now: Double) async throws -> Int {
        try await database.deleteInBatches("""
            DELETE FROM moderation_rate_cells WHERE key IN (
                SELECT key FROM moderation_rate_cells WHERE tat < \(bind: now) LIMIT 5000
            ) AND tat < \(bind: now)
            """, batch: 5000)
    }

    /// The table and the function, created by Moderation's migration 4 on PostgreSQL.
    static let schema = [
        "CREATE TABLE moderation_rate_cells (key TEXT PRIMARY KEY, tat DOUBLE PRECISION NOT NULL)",
        """
        CREATE FUNCTION moderation_rate_admit(
            p_keys TEXT[], p_intervals DOUBLE PRECISION[], p_bursts DOUBLE PRECISION[], p_now DOUBLE PRECISION
        ) RETURNS TABLE (denied INTEGER, wait DOUBLE PRECISION) LANGUAGE plpgsql AS $$
        DECLARE
            n INTEGER := COALESCE(array_length(p_keys, 1), 0);
            current_tat DOUBLE PRECISION;
            next_tat DOUBLE PRECISION;
            allow_at DOUBLE PRECISION;
            nexts DOUBLE PRECISION[] := '{}';
            worst INTEGER := 0;
            worst_wait DOUBLE PRECISION := 0;
        BEGIN
            FOR i IN 1..n LOOP
                SELECT c.tat INTO current_tat FROM moderation_rate_cells c WHERE c.key = p_keys[i] FOR UPDATE;
                IF NOT FOUND THEN
                    INSERT INTO moderation_rate_cells (key, tat) VALUES (p_keys[i], p_now) ON CONFLICT (key) DO NOTHING;
                    SELECT c.tat INTO current_tat FROM moderation_rate_cells c WHERE c.key = p_keys[i] FOR UPDATE;
                END IF;
                next_tat := GREATEST(current_tat, p_now) + p_intervals[i];
                allow_at := next_tat - p_bursts[i] * p_intervals[i];
                IF p_now < allow_at - 1e-9 AND allow_at - p_now > worst_wait THEN
                    worst := i;
                    worst_wait := allow_at - p_now;
                END IF;
                nexts := nexts || next_tat;
            END LOOP;
            IF worst = 0 THEN
                UPDATE moderation_rate_cells c SET tat = v.next_tat
                FROM unnest(p_keys, nexts) AS v(key, next_tat) WHERE c.key = v.key;
            END IF;
            RETURN QUERY SELECT worst, worst_wait;
        END
        $$
        """,
    ]
}

struct SharedRateCellsError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
