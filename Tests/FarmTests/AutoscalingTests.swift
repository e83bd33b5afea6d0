import Coordinator
import FarmModel
import Foundation
import Testing

/// The cloud-API scaling path, against moto playing EC2 Auto Scaling locally
/// (the real API cannot be reached here; the code path is the production one).
@Suite(.serialized) struct AutoscalingTests {
    /// A moto server with one auto-scaling group of `desired` instances.
    final class MotoAutoScaling {
        let process: Process
        let endpoint: String
        let venvBin = URL(fileURLWithPath: FarmHarness.python).deletingLastPathComponent()

        init(group: String, desired: Int, max: Int) async throws {
            let port = try FarmHarness.freePort()
            endpoint = "http://127.0.0.1:\(port)"
            process = Process()
            process.executableURL = venvBin.appendingPathComponent("moto_server")
            process.arguments = ["-H", "127.0.0.1", "-p", String(port)]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            for _ in 0..<100 {
                if (try? run("curl", ["-fs", "\(endpoint)/moto-api/"])) != nil { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            _ = try python("""
                c = client()
                c.create_launch_configuration(LaunchConfigurationName="agents", ImageId="ami-12c6146b", InstanceType="c6i.large")
                c.create_auto_scaling_group(AutoScalingGroupName="\(group)", LaunchConfigurationName="agents",
                    MinSize=0, MaxSize=\(max), DesiredCapacity=\(desired), AvailabilityZones=["us-east-1a"],
                    NewInstancesProtectedFromScaleIn=True)
                """)
        }

        deinit {
            // moto's server does not stop on SIGTERM.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        var environment: [String: String] {
            ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"]
        }

        /// Runs boto3 code against moto; `client()` is an autoscaling client. Returns what it prints.
        func python(_ body: String) throws -> String {
            let script = """
                import boto3, json, os
                os.environ.update(\(String(decoding: try JSONEncoder().encode(environment), as: UTF8.self)))
                def client():
                    return boto3.client("autoscaling", region_name="us-east-1", endpoint_url="\(endpoint)")
                \(body)
                """
            return try run(FarmHarness.python, ["-c", script]).stdout
        }

        /// (desired capacity, instance ids) of the group.
        func group(_ name: String) throws -> (desired: Int, instances: [String]) {
            let output = try python("""
                g = client().describe_auto_scaling_groups(AutoScalingGroupNames=["\(name)"])["AutoScalingGroups"][0]
                print(json.dumps([g["DesiredCapacity"], [i["InstanceId"] for i in g["Instances"]]]))
                """)
            let parsed = try JSONSerialization.jsonObject(with: Data(output.utf8)) as! [Any]
            return (parsed[0] as! Int, parsed[1] as! [String])
        }
    }

    @Test func theQueueDrivesScaleOutAndIdleAgentsAreDrainedThenTerminated() async throws {
        let moto = try await MotoAutoScaling(group: "farm-agents", desired: 1, max: 4)
        let agentInstance = try #require(try moto.group("farm-agents").instances.first)
        let farm = try await FarmHarness(agents: [[]], coordinatorArguments: [
            "--autoscaling-group", "farm-agents", "--aws-endpoint", moto.endpoint, "--scale-interval", "0.5",
            // min 1: the one real agent is not scaled away before the video arrives.
            "--target-drain-seconds", "5", "--default-task-seconds", "10", "--min-agents", "1", "--max-agents", "4",
            // Credentials come the way they do on EC2: from the instance role via the metadata service.
            "--aws-metadata-endpoint", moto.endpoint,
        ], environment: ["FARM_INSTANCE_ID": agentInstance])
        let scenes = (1...4).map { "class S\($0)(Scene):\n    def construct(self):\n        self.play(Create(Square()), run_time=3)\n" }
        // Unsplit, so all four scenes queue at once: the queue's depth is what this test is about, not planning.
        let (code, body) = try await farm.submit(SubmitRequest(
            script: "from manim import *\n\n" + scenes.joined(separator: "\n"), scriptName: "scale.py", quality: .low, split: false))
        try #require(code == 201, "\(String(decoding: body, as: UTF8.self))")
        let id = try farm.decodeStatus(body).id

        // 4 tasks × 10 s over a 5 s drain target wants 8 agents, capped at 4.
        var scaledOut = false
        var busyAgentSurvived = true
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let group = try moto.group("farm-agents")
            if group.desired == 4 { scaledOut = true }
            let status: VideoStatus = try await farm.get("/v1/videos/\(id)")
            if status.state.isFinal { break }
            if status.scenes.contains(where: { $0.state == .running }) && !group.instances.contains(agentInstance) {
                busyAgentSurvived = false
            }
            try await Task.sleep(for: .milliseconds(300))
        }
        #expect(scaledOut, "the coordinator raised the desired capacity to 4")
        #expect(busyAgentSurvived, "the busy agent's instance was never terminated")
        let (metricsCode, metrics) = try await farm.send("GET", "/metrics")
        #expect(metricsCode == 200)
        let text = String(decoding: metrics, as: UTF8.self)
        #expect(text.contains("farm_queue_depth"))
        #expect(text.contains("farm_desired_agents"))

        let status = try await farm.waitUntilFinal(id)
        try FaultToleranceTests.expectComplete(status, sceneFrames: [45, 45, 45, 45])
        // Queue empty: the idle agent is retired and its instance terminated, lowering the capacity with it.
        var terminated = false
        for _ in 0..<60 {
            let group = try moto.group("farm-agents")
            if !group.instances.contains(agentInstance) && group.desired == 3 {
                terminated = true
                break
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(terminated, "the idle agent's instance was terminated with the desired capacity decremented")
        let agents: [AgentStatus] = try await farm.get("/v1/agents")
        #expect(agents.first?.draining == true, "the retired agent takes no new work")
    }
}
