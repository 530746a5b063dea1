import Foundation
import MicadoClient
import MicadoCore
import MicadoTestSupport
import NIOHTTP1
import Testing

/// The CLI's list of managers (MICADO_MANAGERS): read as hostile input, tried in order.
struct ManagerAddressesTests {
    @Test func aListOfAddressesIsReadInOrder() throws {
        #expect(
            try ManagerClient.managerAddresses(" http://10.0.0.1:7400, https://m2.example:7400/ ,http://[::1]:7400")
                == ["http://10.0.0.1:7400", "https://m2.example:7400", "http://[::1]:7400"]
        )
    }

    @Test(arguments: [
        "", ",", "ftp://h:1", "http://", "http://h:1/path", "http://u:pw@h:1", "http://h:1?x=1", "h:7400",
        String(repeating: "http://h:1,", count: 17),
    ])
    func badListsAreUsageErrors(_ list: String) {
        let error = #expect(throws: MicadoError.self) { try ManagerClient.managerAddresses(list) }
        #expect(error?.code == .usage)
        #expect(error?.message.contains("pw") == false)
    }

    /// No manager on any address: each was tried, and the error says it could not connect.
    @Test func everyAddressIsTriedBeforeItSaysSo() async throws {
        let ports = ManagerFixturePorts.unused(2)
        let client = ManagerClient(
            addresses: ports.map { "http://127.0.0.1:\($0)" },
            token: "t",
            http: sharedHTTPClient
        )
        let error = await #expect(throws: MicadoError.self) { try await client.send(.GET, "/v1/events") }
        #expect(error?.code == .unreachable)
        #expect(
            error?.message.hasPrefix("cannot connect to the micado manager at http://127.0.0.1:\(ports[1])") == true,
            "\(error?.message ?? "")"
        )
    }
}

/// Ports nothing listens on (bound, then closed, by the kernel's choice).
enum ManagerFixturePorts {
    static func unused(_ count: Int) -> [Int] {
        (0..<count).map { _ in
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            return Int(UInt16(bigEndian: address.sin_port))
        }
    }
}
