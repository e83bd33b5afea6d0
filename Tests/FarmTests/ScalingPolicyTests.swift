import Coordinator
import Testing

@Suite struct ScalingPolicyTests {
    @Test func agentsFollowPendingWorkOverTheDrainTargetWithinBounds() {
        var policy = ScalingPolicy()
        policy.targetDrainSeconds = 600
        policy.minAgents = 1
        policy.maxAgents = 10
        #expect(policy.desiredAgents(workSeconds: 0) == 1)
        #expect(policy.desiredAgents(workSeconds: 600) == 1)
        #expect(policy.desiredAgents(workSeconds: 601) == 2)
        #expect(policy.desiredAgents(workSeconds: 3_000) == 5)
        #expect(policy.desiredAgents(workSeconds: 1_000_000) == 10)
        policy.slotsPerAgent = 2
        #expect(policy.desiredAgents(workSeconds: 3_000) == 3)
    }
}
