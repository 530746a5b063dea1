import ArgumentParser
import Foundation
import MicadoClient
import MicadoCore
import NIOCore
import NIOHTTP1

extension Micado {
    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the logs of a container.",
            discussion: """
                A container's output reaches a terminal escaped: control and bidirectional characters are shown as escapes \
                (\\u{1B}, \\u{202E}), newlines and tabs kept, so that it cannot retitle, clear or fill the clipboard of the terminal. \
                Piped or redirected, it is written as it came; --raw writes it so to a terminal too.
                Example: micado logs -n container-x
                """
        )

        @Option(name: .shortAndLong, help: "Container name to get the logs from.")
        var name: String

        @Option(help: "Only the last N lines.")
        var tail: Int?

        @Flag(help: "Write the container's output as it came, even to a terminal (escape sequences then act on it).")
        var raw = false

        struct Line: Decodable {
            var stream: String
            var text: String
        }

        func run() async throws {
            let client = try ManagerClient.fromHome()
            let lines = try await client.json(
                [Line].self,
                .GET,
                "/v1/containers/\(ManagerClient.escape(name))/logs",
                query: tail.map { [("tail", String($0))] } ?? []
            )
            let escapeOut = !raw && isatty(1) == 1
            let escapeErr = !raw && isatty(2) == 1
            for line in lines {
                let toStderr = line.stream == "stderr"
                let text = (toStderr ? escapeErr : escapeOut) ? Text.escaped(line.text, multiline: true) : line.text
                if toStderr { FileHandle.standardError.write(Data((text + "\n").utf8)) } else { print(text) }
            }
        }
    }

    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy a file into or out of a container.",
            discussion: """
                The path inside the container starts with ':'; the other is a local file. Examples:
                  micado copy -n container-x ./index.html :/www/index.html
                  micado copy -n container-x :/etc/hostname ./hostname
                """
        )

        @Option(name: .shortAndLong, help: "Name of the container.")
        var name: String

        @Argument(help: "Source: a local file, or :PATH inside the container.")
        var source: String

        @Argument(help: "Destination: :PATH inside the container, or a local file.")
        var destination: String

        func validate() throws {
            guard source.hasPrefix(":") != destination.hasPrefix(":") else {
                throw ValidationError("exactly one of SOURCE and DEST must be a path inside the container, written :PATH")
            }
        }

        func run() async throws {
            let client = try ManagerClient.fromHome()
            let path = "/v1/containers/\(ManagerClient.escape(name))/files"
            if destination.hasPrefix(":") {
                let file = try FileBody(path: source)
                let mode = ((try? FileManager.default.attributesOfItem(atPath: source))?[.posixPermissions] as? Int) ?? 0o644
                _ = try await client.send(
                    .PUT,
                    path,
                    query: [("path", String(destination.dropFirst())), ("mode", String(mode & 0o7777, radix: 8))],
                    body: file.requestBody,
                    contentType: "application/octet-stream",
                    timeout: .seconds(900)
                )
                Console.err("copied \(file.length) bytes to \(name):\(destination.dropFirst())")
            } else {
                // An unnamed file in the destination's folder, linked in once whole: a failed copy
                // leaves the old file, and no other user's link at any name there redirects it.
                let file = try NewFile(destination)
                let (written, mode) = try await client.download(path, query: [("path", String(source.dropFirst()))], into: file.descriptor)
                // The source's permission bits, never wider (a 0600 key stays 0600; no set-id bit).
                try file.commit(mode: mode_t(mode ?? 0o600) & 0o777, replacing: true)
                Console.err("copied \(written) bytes from \(name):\(source.dropFirst()) to \(destination)")
            }
        }
    }
}
