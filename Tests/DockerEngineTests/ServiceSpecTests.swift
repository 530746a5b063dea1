import DockerEngine
import Foundation
import Testing

struct ServiceSpecTests {
    /// The engine leaves out zero values: a service rolled with no delay reads back without `Delay`.
    @Test func aServiceAsTheEngineWritesItDecodes() throws {
        let json = """
            {"ID": "s1", "Version": {"Index": 12}, "Spec": {"Name": "shop_web", "Labels": {"micado.application": "shop"},
             "TaskTemplate": {"ContainerSpec": {"Image": "busybox:local"}, "Networks": [{"Target": "n1", "Aliases": ["web"]}],
                              "Resources": {"Limits": {"NanoCPUs": 500000000}}},
             "Mode": {"Replicated": {"Replicas": 2}},
             "UpdateConfig": {"Parallelism": 1, "FailureAction": "rollback", "Monitor": 5000000000, "MaxFailureRatio": 0, "Order": "stop-first"},
             "RollbackConfig": {"FailureAction": "pause", "Order": "stop-first"},
             "EndpointSpec": {"Mode": "dnsrr", "Ports": [{"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "host"}]}}}
            """
        let service = try JSONDecoder().decode(SwarmService.self, from: Data(json.utf8))
        #expect(service.spec.replicas == 2)
        #expect(service.spec.updateConfig?.delay == nil && service.spec.updateConfig?.failureAction == "rollback")
        #expect(service.spec.rollbackConfig?.parallelism == nil)
        #expect(service.spec.taskTemplate.networks?.first?.aliases == ["web"])
        #expect(service.spec.taskTemplate.resources?.limits?.nanoCPUs == 500_000_000)
        #expect(service.spec.endpointSpec?.mode == "dnsrr")
    }
}
