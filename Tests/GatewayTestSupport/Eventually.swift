/// Polls `condition` every `interval` until it holds or `timeout` has passed; returns whether it held.
///
/// The one way the tests wait for something another task or process does: never a sleep that hopes the thing has
/// happened by then, always a deadline and a condition that is checked one last time at the deadline. The default
/// timeout is generous because the suite runs in parallel on two shared cores, whose first seconds are the busiest
/// (5 s was once not enough for a request to reach a loopback fixture): a condition that holds is seen within one
/// `interval` of holding, so a long timeout costs nothing when the feature works.
/// - Parameters:
///   - timeout: how long to keep polling.
///   - interval: the pause between two checks.
///   - condition: checked at once, then after each pause, then one last time at the deadline.
/// - Returns: whether `condition` held before the deadline.
public func eventually(
    within timeout: Duration = .seconds(15),
    pollingEvery interval: Duration = .milliseconds(10),
    _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}
