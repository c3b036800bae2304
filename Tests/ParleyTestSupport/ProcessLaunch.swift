import Foundation

extension Process {
    /// Starts the process while no other test is starting one. Foundation's `Process.run()` on Linux crashed
    /// (a bad read in memcpy inside `run()`) a few times in full runs, always while several tests started
    /// processes at once (the SMTP sink, the real binary); launches are quick, so taking turns costs nothing.
    public func runTakingTurns() throws {
        try Self.launchLock.withLock { try run() }
    }

    private static let launchLock = NSLock()
}
