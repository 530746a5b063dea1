import Foundation
import MicadoClouds
import MicadoCore
import MicadoTestSupport
import Testing

/// Where the ec2 driver finds credentials, and that no error ever shows a secret.
@Suite struct EC2CredentialsTests {
    let secret = TestCredentials.secret

    /// A fresh folder standing for $HOME and micado's home; removed by the caller.
    func folder() throws -> String {
        let path = NSTemporaryDirectory() + "micado-ec2-credentials-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path + "/.aws", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: path + "/micado/credentials", withIntermediateDirectories: true)
        return path
    }

    func write(_ text: String, to path: String, mode: Int) throws {
        #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }

    func resolve(_ root: String, profile: String? = nil, _ environment: [String: String] = [:]) throws(CloudError) -> AWSCredentials {
        try EC2Credentials.resolve(
            cloud: "aws",
            profile: profile,
            micadoHome: root + "/micado",
            environment: ["HOME": root].merging(environment) { _, new in new }
        )
    }

    /// `body` must throw a CloudError of kind auth; its text must not hold the secret.
    func refused(_ expected: String, _ body: () throws(CloudError) -> AWSCredentials) {
        do {
            _ = try body()
            Issue.record("accepted; expected: \(expected)")
        } catch {
            #expect(error.kind == .auth)
            #expect(error.message.contains(expected), "\(error.message)")
            #expect(!TestCredentials.leaks(error.message) && !error.message.contains(secret))
            #expect(!"\(error)".contains(secret))
        }
    }

    @Test func theEnvironmentComesFirst() throws {
        let root = try folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try write("[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = other\n", to: root + "/.aws/credentials", mode: 0o600)
        let credentials = try resolve(
            root,
            ["AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": "token123"]
        )
        #expect(credentials == AWSCredentials(accessKeyID: "AKIAENV", secretAccessKey: secret, sessionToken: "token123"))
        #expect(!"\(credentials)".contains(secret))
        #expect(!String(reflecting: credentials).contains(secret))
        refused("AWS_SECRET_ACCESS_KEY is not") { () throws(CloudError) in try resolve(root, ["AWS_ACCESS_KEY_ID": "AKIAENV"]) }
        refused("AWS_ACCESS_KEY_ID is not") { () throws(CloudError) in try resolve(root, ["AWS_SECRET_ACCESS_KEY": secret]) }
    }

    @Test func theProfileFileByProfile() throws {
        let root = try folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try write(
            """
            # AWS CLI style
            [default]
            aws_access_key_id = AKIADEFAULT
            aws_secret_access_key = \(secret)

            [work]
            aws_access_key_id=AKIAWORK
            aws_secret_access_key=\(secret)w
            aws_session_token = session
            """,
            to: root + "/.aws/credentials",
            mode: 0o644
        )
        #expect(try resolve(root).accessKeyID == "AKIADEFAULT")
        #expect(
            try resolve(root, ["AWS_PROFILE": "work"])
                == AWSCredentials(accessKeyID: "AKIAWORK", secretAccessKey: secret + "w", sessionToken: "session")
        )
        // clouds.yaml's profile wins over AWS_PROFILE.
        #expect(try resolve(root, profile: "default", ["AWS_PROFILE": "work"]).accessKeyID == "AKIADEFAULT")
        // AWS_SHARED_CREDENTIALS_FILE moves the file.
        try write("[default]\naws_access_key_id = AKIAMOVED\naws_secret_access_key = \(secret)\n", to: root + "/moved", mode: 0o600)
        #expect(try resolve(root, ["AWS_SHARED_CREDENTIALS_FILE": root + "/moved"]).accessKeyID == "AKIAMOVED")
        refused("no AWS credentials for cloud aws") { () throws(CloudError) in try resolve(root, profile: "absent") }
    }

    @Test func anIncompleteProfileIsNamed() throws {
        let root = try folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try write("[default]\naws_access_key_id = AKIA\n", to: root + "/.aws/credentials", mode: 0o600)
        refused("\(root)/.aws/credentials [default]: aws_secret_access_key is missing") { () throws(CloudError) in try resolve(root) }
        // A line that is not INI is reported by number, never quoted: it may be a secret.
        try write("[default]\n\(secret)\n", to: root + "/.aws/credentials", mode: 0o600)
        refused("\(root)/.aws/credentials:2: neither [profile] nor key = value") { () throws(CloudError) in try resolve(root) }
        try write("aws_secret_access_key = \(secret)\n", to: root + "/.aws/credentials", mode: 0o600)
        refused("\(root)/.aws/credentials:1: a key before any [profile] line") { () throws(CloudError) in try resolve(root) }
        // Header injection through a key ID is refused, naming the field only.
        try write(
            "[default]\naws_access_key_id = AKIA\u{7F}X\naws_secret_access_key = \(secret)\n",
            to: root + "/.aws/credentials",
            mode: 0o600
        )
        refused("the access key ID has characters an AWS key ID cannot have") { () throws(CloudError) in try resolve(root) }
    }

    @Test func micadosOwnFileMustBeOwnerOnly() throws {
        let root = try folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let own = root + "/micado/credentials/aws"
        try write("[default]\naws_access_key_id = AKIAMICADO\naws_secret_access_key = \(secret)\n", to: own, mode: 0o600)
        #expect(try resolve(root) == AWSCredentials(accessKeyID: "AKIAMICADO", secretAccessKey: secret))
        // The profile of clouds.yaml is used there too when the file has it.
        try write(
            "[default]\naws_access_key_id = AKIAMICADO\naws_secret_access_key = \(secret)\n[work]\naws_access_key_id = AKIAW\naws_secret_access_key = s\n",
            to: own,
            mode: 0o400
        )
        #expect(try resolve(root, profile: "work").accessKeyID == "AKIAW")
        for mode in [0o644, 0o640, 0o604, 0o660] {
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: own)
            refused("\(own) is mode \(String(mode, radix: 8)); it holds a secret and must be 0600") { () throws(CloudError) in
                try resolve(root)
            }
        }
        // A link, even to a 0600 file, is refused by name (its own mode, 777, said nothing of it).
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: own)
        try FileManager.default.moveItem(atPath: own, toPath: root + "/secret")
        try FileManager.default.createSymbolicLink(atPath: own, withDestinationPath: root + "/secret")
        refused("\(own) is a symbolic link; micado reads a secret only from a regular file of its own (0600)") { () throws(CloudError) in
            try resolve(root)
        }
        // ~/.aws/credentials comes before it.
        try write(
            "[default]\naws_access_key_id = AKIAHOME\naws_secret_access_key = \(secret)\n",
            to: root + "/.aws/credentials",
            mode: 0o600
        )
        #expect(try resolve(root).accessKeyID == "AKIAHOME")
    }

    @Test func nothingFoundSaysWhereToPutThem() throws {
        let root = try folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        refused(
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, add [default] to \(root)/.aws/credentials, or write \(root)/micado/credentials/aws (mode 0600)"
        ) {
            () throws(CloudError) in try resolve(root)
        }
    }

    @Test func makeRefusesWithoutCredentials() throws {
        let root = try folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cloud = try #require(try CloudsFile.parse(EC2CloudsFileTests.yaml(), file: "clouds.yaml").first)
        try write(
            "[default]\naws_access_key_id = AKIAMICADO\naws_secret_access_key = \(secret)\n",
            to: root + "/micado/credentials/aws",
            mode: 0o644
        )
        let home = MicadoHome(path: root + "/micado")
        do {
            _ = try CloudDrivers.make(
                cloud,
                home: home,
                stateDirectory: root,
                authority: CertificateAuthority(directory: root),
                logger: EC2TestSetup.quietLogger,
                environment: ["HOME": root]
            )
            Issue.record("made a driver from a world-readable credentials file")
        } catch {
            #expect(error.kind == .auth)
            #expect(error.message.contains("must be 0600"))
            #expect(!error.message.contains(secret))
        }
    }
}
