import ArgumentParser
import Foundation
import MicadoClient
import MicadoCore
import NIOCore
import NIOHTTP1

extension Micado {
    struct Build: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a new Docker image from a tarball.",
            discussion: """
                The tarball holds one folder with the Dockerfile and every file it needs, as in MiCADO (tar, or tar.gz). The folder becomes the build context. Example:

                  tar -cf app.tar app/      # app/Dockerfile, app/index.html
                  micado build -n container-app -f app.tar
                """
        )

        @Option(name: .shortAndLong, help: "Name of the image, of the form container-NAME.")
        var name: String

        @Option(name: [.customShort("f"), .customLong("filename")], help: "The tarball with the Dockerfile inside one top folder.")
        var file: String

        @Option(help: "Refuse a tarball (after decompression) larger than this many bytes.")
        var maxContextBytes = 1 << 30

        func validate() throws {
            _ = try usage { () throws(MicadoError) in try ContainerName.parse(name) }
        }

        func run() async throws {
            // Gzip by the system's gzip: the CLI runs where users have it, and it spares a zlib binding.
            var tarball = try FileBody(path: file)
            if tarball.prefix(2) == [0x1f, 0x8b] {
                close(tarball.descriptor)
                tarball = try FileBody.gunzip(path: file, limit: maxContextBytes)
            }
            guard tarball.length <= maxContextBytes else {
                throw MicadoError(.tooLarge, "\(file) has \(tarball.length) bytes, more than --max-context-bytes \(maxContextBytes)")
            }
            let client = try ManagerClient.fromHome()
            Console.err("building \(name) from \(file) (\(tarball.length) bytes)…")
            let answer = try await client.send(
                .POST,
                "/v1/images",
                query: [("name", name)],
                body: tarball.requestBody,
                contentType: "application/x-tar",
                timeout: .seconds(900)
            )
            let image = try WireFormat.decoder().decode(ImageView.self, from: Data(answer.readableBytesView))
            print(image.name)
            Console.err("built \(image.name) \(image.imageID.map { String($0.prefix(19)) } ?? "")")
        }
    }
}
