import MicadoCore
import Testing

@Suite struct LaunchParametersTests {
    @Test(arguments: ["A=1", "a_b=", "PATH=/bin:/usr/bin", "K=v=w"])
    func environmentAccepts(_ text: String) throws {
        let variable = try EnvironmentVariable.parse(text)
        #expect(variable.description == text)
    }

    @Test func environmentKeepsEqualsInValue() throws {
        let variable = try EnvironmentVariable.parse("K=v=w")
        #expect(variable.key == "K")
        #expect(variable.value == "v=w")
    }

    @Test(arguments: ["novalue", "=x", "1A=2", "A-B=3", "A B=1"])
    func environmentRejects(_ text: String) {
        #expect(throws: MicadoError.self) { try EnvironmentVariable.parse(text) }
    }

    @Test func portForms() throws {
        #expect(try PortMapping.parse("8080") == PortMapping(published: 8080, target: 8080))
        #expect(try PortMapping.parse("8080:80") == PortMapping(published: 8080, target: 80))
    }

    @Test(arguments: ["0", "65536", "x", "80:", ":80", "1:2:3", "-1"])
    func portRejects(_ text: String) {
        #expect(throws: MicadoError.self) { try PortMapping.parse(text) }
    }

    @Test func portErrorNamesTheRange() {
        #expect(throws: MicadoError(.badRequest, "invalid port '70000': 70000 is out of range 1-65535")) { try PortMapping.parse("70000") }
    }

    @Test(arguments: [("256", 256), ("256m", 256), ("1g", 1024), ("1.5GiB", 1536), ("64MB", 64)])
    func memory(_ text: String, _ mib: Int) throws {
        #expect(try MemorySize.parseMiB(text) == mib)
    }

    @Test(arguments: ["", "m", "-5", "2k", "1", "2t"])
    func memoryRejects(_ text: String) {
        #expect(throws: MicadoError.self) { try MemorySize.parseMiB(text) }
    }

    @Test func containerNames() {
        #expect(ContainerName(rawValue: "container-web-01") != nil)
        #expect(ContainerName(rawValue: "container-") == nil)
        #expect(ContainerName(rawValue: "web") == nil)
        #expect(ContainerName(rawValue: "container-Web") == nil)
        #expect(ContainerName(rawValue: "container-web-") == nil)
        #expect(ContainerName(rawValue: "container-" + String(repeating: "a", count: 60)) == nil)
    }

    @Test func domains() throws {
        try DomainName.validate("app.example.org")
        try DomainName.validate("localhost")
        for bad in ["", "a..b", "-a.org", "a-.org", "a_b.org", String(repeating: "a", count: 64) + ".org"] {
            #expect(throws: MicadoError.self) { try DomainName.validate(bad) }
        }
    }

    @Test func imageNormalisation() {
        #expect(ImageReference.normalized("busybox") == "busybox:latest")
        #expect(ImageReference.normalized("busybox:local") == "busybox:local")
        #expect(ImageReference.normalized("10.0.0.1:5000/app") == "10.0.0.1:5000/app:latest")
        #expect(ImageReference.normalized("app@sha256:abc") == "app@sha256:abc")
    }

    /// Docker's reading of where an image comes from: a first part with a dot, a colon or
    /// `localhost` is a registry; anything else is Docker Hub, whose official images live in `library/`.
    @Test func registriesAndDockerHubPaths() {
        #expect(ImageReference.registry(of: "nginx:1.27") == nil)
        #expect(ImageReference.registry(of: "bitnami/redis:7") == nil)
        #expect(ImageReference.registry(of: "docker.io/library/nginx:1.27") == nil)
        #expect(ImageReference.registry(of: "ghcr.io/o/app:1") == "ghcr.io")
        #expect(ImageReference.registry(of: "10.213.0.1:5000/mirror/busybox:local") == "10.213.0.1:5000")
        #expect(ImageReference.registry(of: "localhost/app:1") == "localhost")
        #expect(ImageReference.dockerHubPath(of: "nginx:1.27") == "library/nginx:1.27")
        #expect(ImageReference.dockerHubPath(of: "bitnami/redis:7") == "bitnami/redis:7")
        #expect(ImageReference.dockerHubPath(of: "docker.io/nginx:1.27") == "library/nginx:1.27")
        #expect(ImageReference.dockerHubPath(of: "index.docker.io/bitnami/redis:7") == "bitnami/redis:7")
        // Hosts are case-insensitive, one domain is stripped, and registry-1 is another host to Docker.
        #expect(ImageReference.registry(of: "Docker.IO/nginx:1") == nil)
        #expect(ImageReference.dockerHubPath(of: "Docker.IO/nginx:1") == "library/nginx:1")
        #expect(ImageReference.dockerHubPath(of: "docker.io/index.docker.io/x:1") == "index.docker.io/x:1")
        #expect(ImageReference.registry(of: "registry-1.docker.io/nginx:1") == "registry-1.docker.io")
        let digest = "sha256:" + String(repeating: "ab", count: 32)
        #expect(ImageReference.dockerHubPath(of: "nginx@" + digest) == "library/nginx@" + digest)
        #expect(ImageReference.dockerHubPath(of: "ghcr.io/o/app:1") == nil)
        #expect(ImageReference.isDigest(digest))
        #expect(!ImageReference.isDigest("sha256:" + String(repeating: "AB", count: 32)))
        #expect(!ImageReference.isDigest("sha256:abc") && !ImageReference.isDigest("md5:" + String(repeating: "a", count: 32)))
    }

    /// Path components are never empty, `.` or `..`: the engine reads `x/../busybox` as `busybox` and Swarm then refuses it.
    @Test func imageReferencesFollowDockersGrammar() throws {
        let digest = "sha256:" + String(repeating: "ab", count: 32)
        for good in [
            "busybox:local", "container-web", "10.0.0.1:5000/app:latest", "a/b/c", "app@" + digest, "my_app.v2", "localhost/x:V1",
            "Registry.example:443/team/app",
        ] {
            try ImageReference.validate(good)
        }
        for bad in [
            "x/../busybox:local", "./busybox", "a//b", "/a", "a/", "-a", "a/.hidden", "a/b-:tag", "s/nePxkg/5L:fn9SN0@kuXs", "Busybox",
            "app@sha256:abc", "a:b:c",
            // domain labels neither start nor end with a dash (the engine: "invalid reference format")
            "reg.0QN-.example:5000/app", "-reg.example/app", "reg-:5000/app",
        ] {
            #expect(throws: MicadoError.self, "\(bad)") { try ImageReference.validate(bad) }
        }
    }

    @Test func launchRequestValidation() throws {
        try LaunchRequest(image: "busybox:local", client: "web", script: "/bin/httpd", arguments: ["-f", "-p", "80"]).validate()
        #expect(throws: MicadoError.self) { try LaunchRequest(image: "busybox", client: "Web!").validate() }
        #expect(throws: MicadoError.self) { try LaunchRequest(image: "busybox", client: "web", script: "run.sh").validate() }
        // Absolute by its first byte: "/" then an emoji modifier is one Character, still a path (found by the fuzzer).
        try LaunchRequest(image: "busybox:local", client: "web", script: "/\u{1F3FB}x").validate()
        #expect(throws: MicadoError.self) {
            try LaunchRequest(image: "busybox", client: "web", port: PortMapping(published: 0, target: 80)).validate()
        }
        #expect(throws: MicadoError.self) { try LaunchRequest(image: "busybox", client: "web", memoryMiB: 2).validate() }
        #expect(throws: MicadoError.self) { try LaunchRequest(image: "bad image", client: "web").validate() }
    }
}
