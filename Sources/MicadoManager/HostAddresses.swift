import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The IPv4 addresses of this machine's interfaces (eth0, micado's bridges): a cloud that
/// reports one of them for an instance names this machine, not an instance.
enum HostAddresses {
    static func ipv4() -> Set<String> {
        var first: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&first) == 0, let list = first else { return [] }
        defer { freeifaddrs(list) }
        var addresses: Set<String> = []
        for entry in sequence(first: list, next: { $0.pointee.ifa_next }) {
            guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET) else { continue }
            // sockaddr_in's four address bytes follow the port in sa_data; reading them there keeps
            // this file off sockaddr_in, which a release build resolves to NIO's C module.
            let data = address.pointee.sa_data
            let octets = [data.2, data.3, data.4, data.5].map { String(UInt8(bitPattern: $0)) }
            addresses.insert(octets.joined(separator: "."))
        }
        return addresses
    }
}
