import Foundation

/// Polls `condition` every `interval` until it holds; false after `seconds` (a bound, not a timing assertion).
public func eventually(
    within seconds: Double = 15, every interval: Duration = .milliseconds(20), _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while try await !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try await Task.sleep(for: interval)
    }
    return true
}
