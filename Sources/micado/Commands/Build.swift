import ArgumentParser
import Foundation
import MicadoCore
import NIOCore
import NIOHTTP1

extension Micado {
    struct Build: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a new Docker image from a tarball.",
            discussion: """
                The tarball holds one folder with the Dockerfile and every file it needs, as in MiCADO
                (tar, or tar.gz). The folder becomes the build context. Example:

                  tar -cf app.tar app/      # app/Dockerfile, app/index.html
                  micado build -n container-app -f app.tar
                """)

        @Option(name: .shortAndLong, help: "Name of the image, of the form container-NAME.")
        var name: String

        @Option(name: [.customShort("f"), .customLong("filename")], help: "The tarball with the Dockerfile inside one top folder.")
        var file: String

        func validate() throws {
            _ = try usage { () throws(MicadoError) in try ContainerName.parse(name) }
        }

        func run() async throws {
            guard var bytes = FileManager.default.contents(atPath: file).map(Array.init) else {
                throw MicadoError(.badRequest, "cannot read the tarball \(file)")
            }
            if bytes.starts(with: [0x1f, 0x8b]) { bytes = try Gzip.decompress(bytes, path: file) }
            let client = try ManagerClient.fromHome()
            Console.err("building \(name) from \(file) (\(bytes.count) bytes)…")
            let answer = try await client.send(
                .POST, "/v1/images", query: [("name", name)], body: bytes, contentType: "application/x-tar", timeout: .seconds(900))
            let image = try WireFormat.decoder().decode(ImageView.self, from: Data(answer.readableBytesView))
            print(image.name)
            Console.err("built \(image.name) \(image.imageID.map { String($0.prefix(19)) } ?? "")")
        }
    }
}

/// Gzip by the system's gzip: the CLI runs where users have it, and it spares a zlib binding.
enum Gzip {
    static func decompress(_ bytes: [UInt8], path: String) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "exec gzip -dc"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let writer = Thread {
            input.fileHandleForWriting.write(Data(bytes))
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw MicadoError(.badRequest, "\(path) looks gzip-compressed but does not decompress") }
        return Array(data)
    }
}
