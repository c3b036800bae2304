import Foundation

/// Runs blocking work (a blocking socket, waiting for a process) on a Dispatch thread and waits for it without
/// holding one of Swift's cooperative threads. There are as many of those as cores (two here); two tests blocking
/// them at once would stall the in-process server they wait for, and the whole suite with it.
func offCooperativePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}

func offCooperativePool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: work()) }
    }
}
