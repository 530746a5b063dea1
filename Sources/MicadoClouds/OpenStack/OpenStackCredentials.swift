import Foundation
import MicadoCore

/// A Keystone v3 password login. `description` never shows the password.
public struct OpenStackCredentials: Sendable, Equatable, CustomStringConvertible {
    public var username: String
    public var password: String
    /// The project to scope the token to, by name (with its domain) or by ID.
    public var projectName: String?
    public var projectID: String?
    public var userDomain: String
    public var projectDomain: String

    public init(
        username: String,
        password: String,
        projectName: String? = nil,
        projectID: String? = nil,
        userDomain: String = "Default",
        projectDomain: String = "Default"
    ) {
        self.username = username
        self.password = password
        self.projectName = projectName
        self.projectID = projectID
        self.userDomain = userDomain
        self.projectDomain = projectDomain
    }

    public var description: String {
        "OpenStack user \(Text.escaped(username))@\(Text.escaped(userDomain)), project \(Text.escaped(projectID ?? projectName ?? "?"))"
    }

    /// Where the openstack driver finds its login, in the order OpenStack users keep it:
    /// 1. `OS_USERNAME`, `OS_PASSWORD`, `OS_PROJECT_NAME` or `OS_PROJECT_ID`,
    ///    `OS_USER_DOMAIN_NAME`, `OS_PROJECT_DOMAIN_NAME` (as an openrc file sets them);
    /// 2. micado's own `<home>/credentials/<cloud>` (0600), section `[profile]` else
    ///    `[default]`: `username`, `password`, `project_name` or `project_id`,
    ///    `user_domain_name`, `project_domain_name`.
    /// No error here ever holds the password, nor a line of the file.
    public static func resolve(
        cloud: String,
        profile: String?,
        micadoHome: String,
        environment: [String: String]
    ) throws(CloudError) -> OpenStackCredentials {
        func value(_ key: String) -> String? { environment[key].flatMap { $0.isEmpty ? nil : $0 } }
        if value("OS_USERNAME") != nil || value("OS_PASSWORD") != nil {
            guard let username = value("OS_USERNAME") else { throw CloudError(.auth, "OS_PASSWORD is set but OS_USERNAME is not") }
            guard let password = value("OS_PASSWORD") else { throw CloudError(.auth, "OS_USERNAME is set but OS_PASSWORD is not") }
            return try checked(
                OpenStackCredentials(
                    username: username,
                    password: password,
                    projectName: value("OS_PROJECT_NAME") ?? value("OS_TENANT_NAME"),
                    projectID: value("OS_PROJECT_ID") ?? value("OS_TENANT_ID"),
                    userDomain: value("OS_USER_DOMAIN_NAME") ?? "Default",
                    projectDomain: value("OS_PROJECT_DOMAIN_NAME") ?? "Default"
                ),
                from: "the environment (OS_*)"
            )
        }
        let file = CredentialsFile.path(cloud: cloud, micadoHome: micadoHome)
        guard let sections = try CredentialsFile.own(cloud: cloud, micadoHome: micadoHome) else {
            throw CloudError(
                .auth,
                "no OpenStack login for cloud \(cloud): set OS_USERNAME, OS_PASSWORD and OS_PROJECT_NAME (source your openrc), or write \(file) (mode 0600)"
            )
        }
        let name = profile ?? "default"
        guard let section = sections[name] ?? sections["default"] else {
            throw CloudError(.auth, "\(file) has no [\(Text.escaped(name))] or [default] section")
        }
        let place = "\(file) [\(Text.escaped(sections[name] != nil ? name : "default"))]"
        guard let username = section["username"], !username.isEmpty else { throw CloudError(.auth, "\(place): username is missing") }
        guard let password = section["password"], !password.isEmpty else { throw CloudError(.auth, "\(place): password is missing") }
        func field(_ key: String) -> String? { section[key].flatMap { $0.isEmpty ? nil : $0 } }
        return try checked(
            OpenStackCredentials(
                username: username,
                password: password,
                projectName: field("project_name"),
                projectID: field("project_id"),
                userDomain: field("user_domain_name") ?? "Default",
                projectDomain: field("project_domain_name") ?? "Default"
            ),
            from: place
        )
    }

    /// A token must be scoped to a project, and nothing may hold a control character.
    static func checked(_ credentials: OpenStackCredentials, from place: String) throws(CloudError) -> OpenStackCredentials {
        guard credentials.projectName != nil || credentials.projectID != nil else {
            throw CloudError(.auth, "\(place): no project (OS_PROJECT_NAME or OS_PROJECT_ID; project_name or project_id)")
        }
        let fields =
            [credentials.username, credentials.password, credentials.userDomain, credentials.projectDomain]
            + [credentials.projectName, credentials.projectID].compactMap { $0 }
        guard fields.allSatisfy({ $0.count <= 1024 && !$0.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F } }) else {
            throw CloudError(.auth, "\(place): a field has a control character or is longer than 1024 characters")
        }
        return credentials
    }
}
