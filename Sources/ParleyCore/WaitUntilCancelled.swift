/// Returns once the calling task is cancelled: for a service that has nothing to do in some configuration (one
/// engine, a feature turned off) but must keep running, since a service group shuts down when one of its services
/// returns.
public func waitUntilCancelled() async {
    while !Task.isCancelled {
        try? await Task.sleep(for: .seconds(3600))
    }
}
