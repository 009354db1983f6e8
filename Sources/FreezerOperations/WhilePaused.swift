import CgroupFreezer

/// What `Resolver.whilePaused` did: the pause, what the body gave, and the thaw.
public struct WhilePaused<Value: Sendable>: Sendable {
    /// The pause of every item.
    public var paused: [BatchResult]
    /// What the body returned or threw; nil when it was not run because a pause failed.
    public var outcome: Result<Value, any Error>?
    /// The thaw of what this call paused (items paused already before the call stay paused).
    public var thawed: [BatchResult]
}

extension Resolver {
    /// Pauses `selection`, runs `body` once every item is paused, then thaws what this call
    /// paused, whatever the body did: returned, threw, or was cancelled (the thaw runs to its end
    /// even then). When a pause fails the body is not run, and what was paused is thawed at once:
    /// a step that needs its targets frozen never runs on a half-frozen set.
    public func whilePaused<Value: Sendable>(
        _ selection: TargetSelection, options: BatchOptions, _ body: @escaping @Sendable ([BatchResult]) async throws -> Value
    ) async -> WhilePaused<Value> {
        var pause = options
        pause.operation = .freeze
        let paused = await run(selection, options: pause)
        var outcome: Result<Value, any Error>?
        if !paused.isEmpty && !paused.contains(where: { $0.outcome == .error }) && !Task.isCancelled {
            do {
                outcome = .success(try await body(paused))
            } catch {
                outcome = .failure(error)
            }
        }
        var thaw = options
        thaw.operation = .thaw
        let mine = paused.filter { $0.outcome == .ok }.map(\.resolution)
        let thawOptions = thaw
        let thawed = await uncancelled { await self.run(mine, options: thawOptions) }
        return WhilePaused(paused: paused, outcome: outcome, thawed: thawed)
    }
}
