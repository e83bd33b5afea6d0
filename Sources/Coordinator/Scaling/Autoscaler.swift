import Foundation
import Logging
import ServiceLifecycle

/// Where the coordinator's agents' auto-scaling group is, and how often to steer it.
public struct AutoscalerConfiguration: Sendable {
    public var group: String
    public var client: AWSAutoScaling
    public var interval: Duration = .seconds(15)

    public init(group: String, client: AWSAutoScaling) {
        self.group = group
        self.client = client
    }
}

/// Steers the agents' auto-scaling group from the scaling signal: scale-out
/// raises the desired capacity; scale-in retires idle agents (no new work)
/// and terminates exactly those instances. A busy agent is never terminated:
/// it is retired once idle. Instances are expected to be protected from the
/// group's own scale-in, so lowering capacity never picks a busy one.
struct Autoscaler: Service {
    let configuration: AutoscalerConfiguration
    let engine: FarmEngine
    let logger: Logger

    func run() async throws {
        try await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await steer()
                } catch {
                    logger.warning("auto-scaling call failed; retrying next round", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: configuration.interval)
            }
        }
    }

    func steer() async throws {
        let client = configuration.client
        let group = try await client.describeGroup(configuration.group)
        let wanted = min(max(await engine.desiredAgents(), group.min), group.max)
        if wanted > group.desired {
            logger.notice("scaling out", metadata: ["group": "\(configuration.group)", "from": "\(group.desired)", "to": "\(wanted)"])
            try await client.setDesiredCapacity(configuration.group, to: wanted)
        } else if wanted < group.desired {
            let retired = await engine.retireIdleAgents(count: group.desired - wanted, among: Set(group.instances))
            for (agentID, instanceID) in retired {
                logger.notice("scaling in: terminating an idle agent", metadata: ["agent": "\(agentID)", "instance": "\(instanceID)"])
                do {
                    try await client.terminateInstance(instanceID)
                } catch {
                    // Not terminated: put it back to work rather than leave it idle for good.
                    await engine.unretire(agentID: agentID)
                    throw error
                }
            }
        }
    }
}
