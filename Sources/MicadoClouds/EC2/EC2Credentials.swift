import Foundation
import MicadoCore

/// Where the ec2 driver finds AWS credentials, in the order AWS users keep them:
/// 1. `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`);
/// 2. `~/.aws/credentials` (or `AWS_SHARED_CREDENTIALS_FILE`), the profile of clouds.yaml,
///    else `AWS_PROFILE`, else `default`;
/// 3. micado's own `<home>/credentials/<cloud>`, the same INI form, which must be
///    readable by its owner only (0600).
///
/// No error here ever holds a secret, nor a line of a credentials file (it may be one).
public enum EC2Credentials {
    public static var processEnvironment: [String: String] { ProcessInfo.processInfo.environment }

    public static func resolve(
        cloud: String,
        profile: String?,
        micadoHome: String,
        environment: [String: String]
    ) throws(CloudError) -> AWSCredentials {
        let keyID = environment["AWS_ACCESS_KEY_ID"] ?? ""
        let secret = environment["AWS_SECRET_ACCESS_KEY"] ?? ""
        if !keyID.isEmpty || !secret.isEmpty {
            guard !keyID.isEmpty else { throw CloudError(.auth, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not") }
            guard !secret.isEmpty else { throw CloudError(.auth, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not") }
            let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            return try checked(
                AWSCredentials(accessKeyID: keyID, secretAccessKey: secret, sessionToken: token),
                from: "the environment (AWS_*)"
            )
        }
        let profileName = profile ?? environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        let shared =
            environment["AWS_SHARED_CREDENTIALS_FILE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()) + "/.aws/credentials"
        if FileManager.default.fileExists(atPath: shared) {
            let sections = try CredentialsFile.parse(file: shared)
            if let section = sections[profileName] { return try credentials(section, file: shared, profile: profileName) }
        }
        let own = CredentialsFile.path(cloud: cloud, micadoHome: micadoHome)
        if let sections = try CredentialsFile.own(cloud: cloud, micadoHome: micadoHome) {
            for name in [profileName, "default"] {
                if let section = sections[name] { return try credentials(section, file: own, profile: name) }
            }
            throw CloudError(.auth, "\(own) has no [\(Text.escaped(profileName))] or [default] section")
        }
        throw CloudError(
            .auth,
            "no AWS credentials for cloud \(cloud): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, add [\(Text.escaped(profileName))] to \(shared), or write \(own) (mode 0600)"
        )
    }

    static func credentials(_ section: [String: String], file: String, profile: String) throws(CloudError) -> AWSCredentials {
        let place = "\(file) [\(Text.escaped(profile))]"
        guard let keyID = section["aws_access_key_id"], !keyID.isEmpty else {
            throw CloudError(.auth, "\(place): aws_access_key_id is missing")
        }
        guard let secret = section["aws_secret_access_key"], !secret.isEmpty else {
            throw CloudError(.auth, "\(place): aws_secret_access_key is missing")
        }
        let token = (section["aws_session_token"] ?? section["aws_security_token"]).flatMap { $0.isEmpty ? nil : $0 }
        return try checked(AWSCredentials(accessKeyID: keyID, secretAccessKey: secret, sessionToken: token), from: place)
    }

    /// The key ID and the session token travel in headers: printable ASCII only.
    static func checked(_ credentials: AWSCredentials, from place: String) throws(CloudError) -> AWSCredentials {
        func printable(_ text: String) -> Bool { text.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F } }
        guard printable(credentials.accessKeyID), credentials.accessKeyID.count <= 128 else {
            throw CloudError(.auth, "\(place): the access key ID has characters an AWS key ID cannot have")
        }
        guard printable(credentials.secretAccessKey) else {
            throw CloudError(.auth, "\(place): the secret access key has characters an AWS secret cannot have")
        }
        if let token = credentials.sessionToken, !printable(token) {
            throw CloudError(.auth, "\(place): the session token has characters an AWS session token cannot have")
        }
        return credentials
    }
}
