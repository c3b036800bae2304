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

/// The TATs every node shares, in PostgreSQL (`moderation_rate_cells`): one round trip per batch of requests,
/// through `moderation_rate_admit_each`, which locks every row the batch needs in key order (so concurrent batches
/// never deadlock), then applies the same GCRA to each request in turn, moving all of a request's TATs or none.
struct SharedRateCells: Sendable {
    let database: Database

    /// For each request in order: nil when every cell has room on every node's count (and it is recorded), else the
    /// worst denial (and nothing is recorded). Throws when the database does not answer.
    func admitEach(_ requests: [[RateCell]], at now: Double) async throws -> [RateDenial?] {
        var numbers: [Int] = []
        var cells: [RateCell] = []
        for (index, request) in requests.enumerated() {
            numbers += Array(repeating: index + 1, count: request.count)
            cells += request
        }
        guard !cells.isEmpty else { return requests.map { _ in nil } }
        let rows = try await database.sql.raw("""
            SELECT request, denied, wait FROM moderation_rate_admit_each(\(bind: numbers), \(bind: cells.map(\.key)),
                \(bind: cells.map(\.interval)), \(bind: cells.map { Double($0.burst) }), \(bind: now))
            """).all()
        var outcomes = [RateDenial?](repeating: nil, count: requests.count)
        var answered = Set<Int>()
        for row in rows {
            let index = try row.decode(column: "request", as: Int.self) - 1
            let denied = try row.decode(column: "denied", as: Int.self)
            guard requests.indices.contains(index) else { throw SharedRateCellsError("moderation_rate_admit_each answered request \(index + 1)") }
            answered.insert(index)
            guard denied > 0, denied <= requests[index].count else { continue }
            outcomes[index] = RateDenial(kind: requests[index][denied - 1].kind, wait: try row.decode(column: "wait", as: Double.self))
        }
        // A request without cells has no row; every other one must have been answered.
        guard requests.indices.allSatisfy({ answered.contains($0) || requests[$0].isEmpty }) else {
            throw SharedRateCellsError("moderation_rate_admit_each left requests unanswered")
        }
        return outcomes
    }

    /// Deletes keys whose allowance was full again before `now` (absent means full), in batches; returns how many.
    func prune(before now: Double) async throws -> Int {
        try await database.deleteInBatches("""
            DELETE FROM moderation_rate_cells WHERE key IN (
                SELECT key FROM moderation_rate_cells WHERE tat < \(bind: now) LIMIT 5000
            ) AND tat < \(bind: now)
            """, batch: 5000)
    }

    /// The table and the one-request function, created by Moderation's migration 4 on PostgreSQL. The function is
    /// superseded by `moderation_rate_admit_each` (migration 5) and kept so that nodes of the previous release go on
    /// counting during a rolling upgrade.
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

    /// `moderation_rate_admit_each`, created by Moderation's migration 5 on PostgreSQL. Its arguments are the cells of
    /// every request, flattened in request order, with each cell's request number (1, 2, ...); it returns one row per
    /// request: `denied` is 0, or the 1-based position (within that request's cells) of the cell that refused it.
    static let batchSchema = [
        """
        CREATE FUNCTION moderation_rate_admit_each(
            p_requests BIGINT[], p_keys TEXT[], p_intervals DOUBLE PRECISION[], p_bursts DOUBLE PRECISION[], p_now DOUBLE PRECISION
        ) RETURNS TABLE (request INTEGER, denied INTEGER, wait DOUBLE PRECISION) LANGUAGE plpgsql AS $$
        DECLARE
            n INTEGER := COALESCE(array_length(p_keys, 1), 0);
            cell_key TEXT;
            first_cell INTEGER := 1;
            last_cell INTEGER;
            current_tat DOUBLE PRECISION;
            next_tat DOUBLE PRECISION;
            allow_at DOUBLE PRECISION;
            nexts DOUBLE PRECISION[];
            worst INTEGER;
            worst_wait DOUBLE PRECISION;
        BEGIN
            -- Every row the batch needs, created when missing and locked, one key at a time in key order.
            FOR cell_key IN SELECT DISTINCT k FROM unnest(p_keys) AS k ORDER BY k LOOP
                PERFORM 1 FROM moderation_rate_cells c WHERE c.key = cell_key FOR UPDATE;
                IF NOT FOUND THEN
                    INSERT INTO moderation_rate_cells (key, tat) VALUES (cell_key, p_now) ON CONFLICT (key) DO NOTHING;
                    PERFORM 1 FROM moderation_rate_cells c WHERE c.key = cell_key FOR UPDATE;
                END IF;
            END LOOP;
            -- Then each request in turn, seeing the TATs its predecessors moved.
            WHILE first_cell <= n LOOP
                last_cell := first_cell;
                WHILE last_cell < n AND p_requests[last_cell + 1] = p_requests[first_cell] LOOP
                    last_cell := last_cell + 1;
                END LOOP;
                worst := 0;
                worst_wait := 0;
                nexts := '{}';
                FOR i IN first_cell..last_cell LOOP
                    SELECT c.tat INTO current_tat FROM moderation_rate_cells c WHERE c.key = p_keys[i];
                    next_tat := GREATEST(current_tat, p_now) + p_intervals[i];
                    allow_at := next_tat - p_bursts[i] * p_intervals[i];
                    IF p_now < allow_at - 1e-9 AND allow_at - p_now > worst_wait THEN
                        worst := i - first_cell + 1;
                        worst_wait := allow_at - p_now;
                    END IF;
                    nexts := nexts || next_tat;
                END LOOP;
                IF worst = 0 THEN
                    UPDATE moderation_rate_cells c SET tat = v.next_tat
                    FROM unnest(p_keys[first_cell:last_cell], nexts) AS v(key, next_tat) WHERE c.key = v.key;
                END IF;
                request := p_requests[first_cell];
                denied := worst;
                wait := worst_wait;
                RETURN NEXT;
                first_cell := last_cell + 1;
            END LOOP;
        END
        $$
        """,
    ]
}

struct SharedRateCellsError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
