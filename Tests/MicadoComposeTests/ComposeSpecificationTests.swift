import Foundation
import MicadoCompose
import MicadoCore
import Testing

/// The Compose specification's keys beyond what `docker stack deploy` needed first: their
/// fates, interpolation, the container options, order and networks.
struct ComposeSpecificationTests {
    static func parse(_ text: String, _ variables: [String: String] = [:]) throws -> ApplicationSpec {
        try ComposeFile.parse(text, file: "compose.yaml", name: "app", folder: nil, variables: variables)
    }

    /// docs/compose.md lists every key with the fate the code gives it, and nothing else.
    @Test func theDocumentedTableIsTheCodes() throws {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let document = try String(contentsOf: url.appendingPathComponent("docs/compose.md"), encoding: .utf8)
        func rows(after heading: String) -> [String] {
            let section = document.components(separatedBy: heading).dropFirst().first?.components(separatedBy: "\n## ").first ?? ""
            return section.split(separator: "\n").filter { $0.hasPrefix("| `") }.map(String.init)
        }
        func row(_ key: String, _ fate: ComposeKeyFate) -> String {
            switch fate {
            case .honoured: "| `\(key)` | honoured |"
            case .warned(let reason): "| `\(key)` | warned: \(reason) |"
            case .refused(let reason): "| `\(key)` | refused: \(reason) |"
            }
        }
        #expect(rows(after: "## Top-level keys") == ComposeKeys.topLevel.map { row($0.key, $0.fate) })
        #expect(rows(after: "## Service keys") == ComposeKeys.service.map { row($0.key, $0.fate) })
    }

    /// Every service key of the specification has a fate (the list is the specification's).
    @Test func everyServiceKeyOfTheSpecificationHasAFate() {
        let specification = """
            annotations attach blkio_config build cap_add cap_drop cgroup cgroup_parent command configs container_name \
            cpu_count cpu_percent cpu_period cpu_quota cpu_rt_period cpu_rt_runtime cpu_shares cpus cpuset credential_spec \
            depends_on deploy develop device_cgroup_rules devices dns dns_opt dns_search domainname entrypoint env_file \
            environment expose extends external_links extra_hosts gpus group_add healthcheck hostname image init ipc isolation \
            label_file labels links logging mac_address mem_limit mem_reservation mem_swappiness memswap_limit models \
            network_mode networks oom_kill_disable oom_score_adj pid pids_limit platform ports post_start pre_stop privileged \
            profiles provider pull_policy pull_refresh_after read_only restart runtime scale secrets security_opt shm_size \
            stdin_open stop_grace_period stop_signal storage_opt sysctls tmpfs tty ulimits use_api_socket user userns_mode uts \
            volumes volumes_from working_dir
            """
        let keys = Set(ComposeKeys.service.map(\.key))
        for key in specification.split(separator: " ") { #expect(keys.contains(String(key)), "\(key) has no fate") }
        #expect(
            Set(ComposeKeys.topLevel.map(\.key)) == [
                "configs", "include", "models", "name", "networks", "secrets", "services", "version", "volumes",
            ]
        )
    }

    @Test(arguments: [
        ("$A", "1"), ("${A}", "1"), ("x${A}y", "x1y"), ("$$A", "$A"), ("$${A}", "${A}"),
        ("${UNSET:-d}", "d"), ("${EMPTY:-d}", "d"), ("${EMPTY-d}", ""), ("${UNSET-d}", "d"),
        ("${A:+r}", "r"), ("${EMPTY:+r}", ""), ("${EMPTY+r}", "r"), ("${UNSET+r}", ""),
        ("${UNSET:-${A}}", "1"), ("${UNSET:-a ${A} b}", "a 1 b"), ("${A?}", "1"), ("no dollar", "no dollar"),
        ("$A_B", "2"), ("${A}_B", "1_B"),
    ])
    func interpolationIsTheSpecifications(_ text: String, _ expected: String) throws {
        let variables = ["A": "1", "EMPTY": "", "A_B": "2"]
        let result = try ComposeInterpolation.interpolate(text) { variables[$0] }
        #expect(result.value == expected)
        #expect(result.unset.isEmpty)
    }

    @Test func interpolationRefusesWhatTheSpecificationRefuses() {
        let variables = ["EMPTY": ""]
        for (text, message) in [
            ("${UNSET:?needed}", "UNSET is not set or empty: needed"), ("${EMPTY:?}", "EMPTY is not set or empty: it is required"),
            ("${UNSET?no}", "UNSET is not set: no"), ("$", "a lone '$'"), ("${A", "never closed"), ("${}", "variable's name"),
            ("${A*b}", "must be followed by"), ("$1", "'$1' is not an interpolation"),
            (String(repeating: "${A:-", count: 20) + String(repeating: "}", count: 20), "nested more than 16"),
        ] {
            do {
                _ = try ComposeInterpolation.interpolate(text) { variables[$0] }
                Issue.record("\(text) was accepted")
            } catch {
                #expect(error.message.contains(message), "\(text): \(error.message)")
            }
        }
        // An unset variable without a default is empty, and said.
        let result = try? ComposeInterpolation.interpolate("a${NOPE}b$NOPE") { variables[$0] }
        #expect(result?.value == "ab" && result?.unset == ["NOPE"])
        // Values are bounded while they are substituted.
        let big = String(repeating: "x", count: 1000)
        #expect(throws: ComposeInterpolation.Failure.self) {
            _ = try ComposeInterpolation.interpolate(String(repeating: "$B", count: 100), limit: 50_000) { _ in big }
        }
    }

    /// The file's values are interpolated with the variables given, line numbers intact; keys are not.
    @Test func theFileIsInterpolatedAndWarnsOfUnsetVariables() throws {
        let text = """
            services:
              web:
                image: "busybox:${TAG:-local}"
                environment:
                  GREETING: "hello $WHO"
                  PRICE: "$$5"
                  MISSING: "[${MISSING}]"
                deploy: {replicas: "${REPLICAS}"}
            """
        let app = try Self.parse(text, ["WHO": "world", "REPLICAS": "3"])
        let web = try #require(app.services.first)
        #expect(web.image == "busybox:local")
        #expect(web.replicas == 3)
        #expect(web.environment.map(\.description) == ["GREETING=hello world", "MISSING=[]", "PRICE=$5"])
        #expect(
            app.warnings == [
                "compose.yaml:7: services.web.environment.MISSING: the variable MISSING is not set; it reads as an empty string"
            ]
        )
        #expect(try ComposeFile.variableNames(in: text, file: "compose.yaml") == ["TAG", "WHO", "MISSING", "REPLICAS"])
        // A comment's variables are not the file's.
        #expect(try ComposeFile.variableNames(in: "# ${HOME}\nservices: {web: {image: x}}\n", file: "f").isEmpty)
        // Many uses of one large value are refused, not expanded.
        let many = "services:\n  web:\n    image: x\n    environment:\n" + (0..<200).map { "      V\($0): \"${BIG}\"\n" }.joined()
        #expect {
            try Self.parse(many, ["BIG": String(repeating: "x", count: 200_000)])
        } throws: { ($0 as? MicadoError)?.code == .tooLarge }
    }

    @Test func environmentFilesAreReadAsComposeReadsThem() throws {
        let values = try EnvironmentFile.parse(
            """
            # a comment
            A=1
            export B = two words 
            C='single $quoted # kept'
            D="line\\nnext \\"q\\""
            E=bare # comment
            EMPTY=

            """,
            file: ".env"
        )
        #expect(values == ["A": "1", "B": "two words", "C": "single $quoted # kept", "D": "line\nnext \"q\"", "E": "bare", "EMPTY": ""])
        #expect(throws: MicadoError.self) { try EnvironmentFile.parse("not a pair\n", file: ".env") }
        #expect(throws: MicadoError.self) { try EnvironmentFile.parse("1A=x\n", file: ".env") }
        #expect(throws: MicadoError.self) { try EnvironmentFile.parse("A='open\n", file: ".env") }
    }

    /// The container options of a typical sample application's file, read into what Swarm takes.
    @Test func containerOptionsAreRead() throws {
        let app = try Self.parse(
            """
            version: "3.9"
            networks: {front: {}, back: {driver: overlay}}
            services:
              db:
                image: postgres:16
                container_name: db
                hostname: db-host
                user: "999:999"
                working_dir: /var/lib/db
                stop_signal: SIGINT
                stop_grace_period: 1m30s
                restart: on-failure:5
                cap_add: [net_admin, CAP_NET_BIND_SERVICE]
                cap_drop: [ALL]
                sysctls: {net.core.somaxconn: 1024}
                ulimits: {nproc: 65535, nofile: {soft: 20000, hard: 40000}}
                init: true
                tty: true
                stdin_open: true
                read_only: true
                extra_hosts: ["cache:10.0.0.5", "v6=[::1]"]
                dns: 10.0.0.53
                dns_search: [example.internal]
                logging: {driver: json-file, options: {max-size: 10m}}
                healthcheck:
                  test: ["CMD-SHELL", "pg_isready -U postgres"]
                  interval: 5s
                  timeout: 3s
                  retries: 10
                  start_period: 30s
                tmpfs: [/run, /tmp]
                shm_size: 256m
                expose: ["5432"]
                networks: {back: {aliases: [database]}}
              web:
                image: web:1
                depends_on: {db: {condition: service_healthy}}
                networks: [front, back]
                healthcheck: {test: curl -f http://localhost/}
                deploy: {restart_policy: {condition: on-failure, delay: 5s, max_attempts: 3, window: 2m}, labels: {team: shop}}
            """
        )
        let db = try #require(app.services.first { $0.name == "db" })
        let o = db.options
        #expect(o.hostname == "db-host" && o.user == "999:999" && o.workingDirectory == "/var/lib/db")
        #expect(o.stopSignal == "SIGINT" && o.stopGracePeriodSeconds == 90)
        #expect(
            o.restart
                == {
                    var r = ContainerOptions.RestartPolicy(condition: .onFailure)
                    r.maxAttempts = 5
                    return r
                }()
        )
        #expect(o.capabilityAdd == ["CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE"] && o.capabilityDrop == ["ALL"])
        #expect(o.sysctls == ["net.core.somaxconn": "1024"])
        #expect(o.ulimits == [.init(name: "nofile", soft: 20000, hard: 40000), .init(name: "nproc", soft: 65535, hard: 65535)])
        #expect(o.initProcess == true && o.tty == true && o.openStdin == true && o.readOnly == true)
        #expect(o.hosts == ["10.0.0.5 cache", "::1 v6"])
        #expect(o.nameservers == ["10.0.0.53"] && o.dnsSearch == ["example.internal"])
        #expect(o.logging == .init(driver: "json-file", options: ["max-size": "10m"]))
        var check = ContainerOptions.Healthcheck(test: ["CMD-SHELL", "pg_isready -U postgres"])
        check.intervalSeconds = 5
        check.timeoutSeconds = 3
        check.retries = 10
        check.startPeriodSeconds = 30
        #expect(o.healthcheck == check)
        #expect(o.tmpfs == [.init(target: "/run"), .init(target: "/tmp"), .init(target: "/dev/shm", sizeBytes: 256 << 20)])
        #expect(o.expose == [5432] && o.networks == ["back": ["database"]])
        let web = try #require(app.services.first { $0.name == "web" })
        #expect(web.dependsOn == [.init(service: "db", condition: .healthy)])
        #expect(web.options.networks == ["front": [], "back": []])
        #expect(web.options.healthcheck?.test == ["CMD-SHELL", "curl -f http://localhost/"])
        #expect(web.options.restart?.condition == .onFailure && web.options.restart?.maxAttempts == 3)
        #expect(web.options.restart?.delaySeconds == 5 && web.options.restart?.windowSeconds == 120)
        #expect(web.options.serviceLabels == ["team": "shop"])
        // What is accepted but not carried out is said, by line and field.
        #expect(app.warnings.contains { $0.hasPrefix("compose.yaml:1: version is not carried out") })
        #expect(app.warnings.contains { $0.hasPrefix("compose.yaml:6: services.db.container_name is not carried out") })
        #expect(app.warnings.count == 2, "\(app.warnings)")
        // Waiting for health needs a health check to wait for.
        #expect {
            try Self.parse("services:\n  a:\n    image: x\n    depends_on: {b: {condition: service_healthy}}\n  b:\n    image: x\n")
        } throws: { ($0 as? MicadoError)?.message.contains("service_healthy needs a healthcheck on services.b") == true }
    }

    @Test func secretsAndConfigsAreRead() throws {
        let app = try Self.parse(
            """
            secrets:
              db_password: {file: ./pw.txt}
              api_token: {environment: TOKEN}
            configs:
              conf: {content: "a=1"}
            services:
              db:
                image: x
                secrets: [db_password, {source: api_token, target: /etc/token, uid: "70", gid: "70", mode: 0440}]
                configs: [conf, {source: conf, target: /etc/conf}]
            """
        )
        #expect(app.secrets == ["db_password": .file("./pw.txt"), "api_token": .environment("TOKEN")])
        #expect(app.configs == ["conf": .content("a=1")])
        let o = app.services[0].options
        var token = ContainerOptions.FileMount(source: "api_token", target: "/etc/token", uid: "70", gid: "70", mode: 0o440)
        token.object = nil
        #expect(o.secrets == [.init(source: "db_password", target: "db_password"), token])
        #expect(o.configs == [.init(source: "conf", target: "/conf"), .init(source: "conf", target: "/etc/conf")])
        for (text, message) in [
            ("services:\n  a:\n    image: x\n    secrets: [nope]\n", "'nope' is not declared in the file's secrets"),
            ("secrets:\n  s: {external: true}\nservices:\n  a:\n    image: x\n", "secrets.s.external"),
            ("secrets:\n  s: {file: a, environment: B}\nservices:\n  a:\n    image: x\n", "needs exactly one of file or environment"),
            ("secrets:\n  s: {content: x}\nservices:\n  a:\n    image: x\n", "'secrets.s.content' is not supported"),
            (
                "configs:\n  c: {content: x}\nservices:\n  a:\n    image: x\n    configs: [{source: c, target: ../x}]\n",
                "must be an absolute path"
            ),
            (
                "secrets:\n  s: {file: a}\nservices:\n  a:\n    image: x\n    secrets: [{source: s, mode: 0999}]\n",
                "mode must be permission bits"
            ),
        ] {
            #expect(throws: MicadoError.self, "\(text)") {
                do { _ = try Self.parse(text) } catch {
                    let said = (error as? MicadoError)?.message ?? "\(error)"
                    #expect(said.contains(message), "\(said)")
                    throw error
                }
            }
        }
    }

    @Test func simpleFormsOfTheSameKeys() throws {
        let app = try Self.parse(
            """
            services:
              a:
                image: x
                restart: "no"
                healthcheck: {disable: true}
                extra_hosts: {db: 10.1.1.1}
                dns: [1.1.1.1, 8.8.8.8]
                depends_on: [b]
              b:
                image: x
                restart: unless-stopped
            """
        )
        let a = app.services[0]
        #expect(a.options.restart?.condition == ContainerOptions.RestartPolicy.Condition.none)
        #expect(a.options.healthcheck?.test == ["NONE"])
        #expect(a.options.hosts == ["10.1.1.1 db"])
        #expect(a.options.nameservers == ["1.1.1.1", "8.8.8.8"])
        #expect(a.dependsOn == [.init(service: "b")])
        #expect(app.services[1].options.restart?.condition == .any)
        #expect(app.warnings.isEmpty)
        // A service without any of these keys carries no options.
        #expect(try Self.parse("services:\n  a:\n    image: x\n").services[0].options.isEmpty)
    }

    @Test func volumesAreRead() throws {
        let app = try Self.parse(
            """
            volumes:
              data: {labels: {tier: db}}
              logs:
              unused: {}
              named: {name: custom}
            services:
              db:
                image: x
                volumes:
                  - data:/var/lib/db
                  - logs:/logs:ro,nocopy
                  - /cache
                  - type: volume
                    source: named
                    target: /named
                    read_only: true
                    volume: {nocopy: true}
                    consistency: cached
                  - type: tmpfs
                    target: /scratch
                    tmpfs: {size: 1m, mode: 1777}
                tmpfs: /run
            """
        )
        // Only the volumes a service mounts.
        #expect(app.volumes == ["data": .init(labels: ["tier": "db"]), "logs": .init(), "named": .init()])
        let o = app.services[0].options
        var logs = ContainerOptions.VolumeMount(source: "logs", target: "/logs", readOnly: true)
        logs.noCopy = true
        var named = ContainerOptions.VolumeMount(source: "named", target: "/named", readOnly: true)
        named.noCopy = true
        #expect(o.volumes == [.init(source: "data", target: "/var/lib/db"), logs, .init(target: "/cache"), named])
        var scratch = ContainerOptions.Tmpfs(target: "/scratch", sizeBytes: 1 << 20)
        scratch.mode = 0o1777
        #expect(o.tmpfs == [.init(target: "/run"), scratch])
        #expect(app.warnings.count == 2, "\(app.warnings)")
        #expect(app.warnings.contains { $0.contains("volumes.named.name is not carried out") })
        #expect(app.warnings.contains { $0.contains("volumes[3].consistency is not carried out") })
        let declared = "volumes:\n  v: {}\n"
        for (text, message) in [
            ("services:\n  a:\n    image: x\n    volumes: [./site:/www]\n", "services.a.volumes[0]: bind mounts"),
            ("services:\n  a:\n    image: x\n    volumes: [~/site:/www]\n", "bind mounts"),
            ("services:\n  a:\n    image: x\n    volumes: [/srv:/www]\n", "bind mounts"),
            ("services:\n  a:\n    image: x\n    volumes: [{type: bind, source: /, target: /h}]\n", "bind mounts"),
            ("services:\n  a:\n    image: x\n    volumes: [{type: npipe, target: /h}]\n", "type npipe is not supported"),
            (declared + "services:\n  a:\n    image: x\n    volumes: [v:/proc/x]\n", "is the container's own"),
            (declared + "services:\n  a:\n    image: x\n    volumes: [v:data]\n", "must be an absolute path"),
            (declared + "services:\n  a:\n    image: x\n    volumes: [v:/a/../b]\n", "must be an absolute path"),
            (declared + "services:\n  a:\n    image: x\n    volumes: [v:/.]\n", "must be an absolute path"),
            (declared + "services:\n  a:\n    image: x\n    volumes: [v:/./proc]\n", "must be an absolute path"),
            (declared + "services:\n  a:\n    image: x\n    volumes: [v:/data/]\n", "must be an absolute path"),
            (declared + "services:\n  a:\n    image: x\n    volumes: [v:/d, v:/d]\n", "/d is mounted twice"),
            (declared + "services:\n  a:\n    image: x\n    volumes: [v:/d:z]\n", "mode z is not supported"),
            (declared + "services:\n  a:\n    image: x\n    volumes: [\"v:/d:ro:x\"]\n", "[SOURCE:]TARGET[:MODE]"),
            (declared + "services:\n  a:\n    image: x\n    tmpfs: /d\n    volumes: [v:/d]\n", "/d is mounted twice"),
            (
                declared + "services:\n  a:\n    image: x\n    volumes: [{type: volume, source: v, target: /d, volume: {subpath: s}}]\n",
                "subpath needs Engine API 1.45"
            ),
            ("services:\n  a:\n    image: x\n    volumes: [{type: tmpfs, target: /d, read_only: true}]\n", "read-only tmpfs"),
            ("services:\n  a:\n    image: x\n    volumes: [{type: tmpfs, target: /d, tmpfs: {size: 100g}}]\n", "tmpfs.size"),
            ("services:\n  a:\n    image: x\n    volumes: [{target: /d}]\n", "type is missing"),
            ("volumes:\n  v: {driver: nfs}\nservices:\n  a:\n    image: x\n", "only the local driver"),
            ("volumes:\n  v: {driver_opts: {type: none, o: bind, device: /etc}}\nservices:\n  a:\n    image: x\n", "driver_opts"),
            ("volumes:\n  v: {external: true}\nservices:\n  a:\n    image: x\n", "volumes.v.external"),
            ("volumes:\n  v: {labels: {micado.manager: x}}\nservices:\n  a:\n    image: x\n", "not a label key micado allows"),
            ("volumes:\n  Bad: {}\nservices:\n  a:\n    image: x\n", "volumes.Bad"),
        ] {
            #expect(throws: MicadoError.self, "\(text)") {
                do { _ = try Self.parse(text) } catch {
                    let said = (error as? MicadoError)?.message ?? "\(error)"
                    #expect(said.contains(message), "\(said)")
                    throw error
                }
            }
        }
    }

    @Test func environmentFilesComeBeforeTheServicesOwnEnvironment() throws {
        var app = try Self.parse(
            """
            services:
              a:
                image: x
                env_file: [base.env, {path: over.env}, {path: gone.env, required: false}, {path: raw.env, format: raw}]
                environment: {OWN: mine, SHARED: own}
              b:
                image: x
                env_file: base.env
            """
        )
        #expect(app.services[0].environmentFiles.map(\.path) == ["base.env", "over.env", "gone.env", "raw.env"])
        #expect(app.services[0].environmentFiles.map(\.required) == [true, true, false, true])
        let files = ["base.env": "A=1\nSHARED=base\nB=\"two words\"\n", "over.env": "A=2\n", "raw.env": "R='kept as is' # too\n"]
        try ComposeFile.applyEnvironmentFiles(&app, file: "compose.yaml") { files[$0.path] }
        #expect(
            app.services[0].environment.map(\.description) == [
                "A=2", "B=two words", "R='kept as is' # too", "OWN=mine", "SHARED=own",
            ]
        )
        #expect(app.services[1].environment.map(\.description) == ["A=1", "SHARED=base", "B=two words"])

        for (files, message) in [
            (["over.env": "A=1", "raw.env": ""], "env_file base.env: no such file beside the Compose file"),
            (["base.env": "not a line\n", "over.env": "", "raw.env": ""], "base.env:1: must be KEY=VALUE"),
            (["base.env": "A=\"a\\nb\"\n", "over.env": "", "raw.env": ""], "has a control character"),
        ] {
            var copy = try Self.parse("services:\n  a:\n    image: x\n    env_file: [base.env, over.env, raw.env]\n")
            let error = #expect(throws: MicadoError.self) {
                try ComposeFile.applyEnvironmentFiles(&copy, file: "compose.yaml") { files[$0.path] }
            }
            #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
        }
        #expect(throws: MicadoError.self) { try Self.parse("services:\n  a:\n    image: x\n    env_file: [{path: a, format: json}]\n") }
    }

    @Test func buildIsReadAndItsImageComesFromTheCLI() throws {
        var app = try Self.parse(
            """
            services:
              web:
                build: {context: ./web, dockerfile: docker/Web.Dockerfile, target: prod, args: [A=1, B=two], cache_from: [x]}
                image: ignored:1
              api:
                build: ./api
            """
        )
        let web = try #require(app.services.first { $0.name == "web" }?.build)
        #expect(web.context == "./web" && web.dockerfile == "docker/Web.Dockerfile" && web.target == "prod")
        #expect(web.arguments == ["A": "1", "B": "two"])
        #expect(app.services.first { $0.name == "api" }?.build?.context == "./api")
        #expect(app.warnings.count == 2, "\(app.warnings)")
        #expect(app.warnings.contains { $0.contains("services.web.image is not carried out with build") })
        #expect(app.warnings.contains { $0.contains("services.web.build.cache_from is not carried out") })

        let tags = ["web": "container-app-web:0123456789abcdef", "api": "container-app-api:fedcba9876543210"]
        try ComposeFile.applyBuilds(&app, tags, file: "compose.yaml")
        #expect(app.services.map(\.image).sorted() == tags.values.sorted())
        for bad in [
            ["web": "container-app-web:0123456789abcdef"],
            ["web": "busybox:local", "api": "container-app-api:fedcba9876543210"],
            ["web": "container-app-web:not-hex-at-all!", "api": "container-app-api:fedcba9876543210"],
            ["web": "container-other-web:0123456789abcdef", "api": "container-app-api:fedcba9876543210"],
        ] {
            var copy = try Self.parse("services:\n  web:\n    build: .\n  api:\n    build: .\n")
            #expect(throws: MicadoError.self, "\(bad)") { try ComposeFile.applyBuilds(&copy, bad, file: "compose.yaml") }
        }
        for (text, message) in [
            ("services:\n  a:\n    build: https://github.com/x/y.git\n", "a remote context is not supported"),
            ("services:\n  a:\n    build: {context: ., dockerfile: ../Dockerfile}\n", "must be a path inside the context"),
            ("services:\n  a:\n    build: {context: ., dockerfile: /etc/Dockerfile}\n", "must be a path inside the context"),
            ("services:\n  a:\n    build: {context: ., secrets: [s]}\n", "take no build secrets"),
            ("services:\n  a:\n    build: {context: ., privileged: true}\n", "take no privileged builds"),
            ("services:\n  a:\n    build: {context: ., args: {1X: y}}\n", "is not an argument name"),
            ("services:\n  a:\n    build: {context: ., frobnicate: y}\n", "'services.a.build.frobnicate' is not supported"),
            ("services:\n  a:\n    environment: {A: b}\n", "services.a.image is missing (or give build:)"),
        ] {
            #expect(throws: MicadoError.self, "\(text)") {
                do { _ = try Self.parse(text) } catch {
                    let said = (error as? MicadoError)?.message ?? "\(error)"
                    #expect(said.contains(message), "\(said)")
                    throw error
                }
            }
        }
    }

    @Test(arguments: [
        ("secret.txt", "secret.txt", true),
        ("secret.txt", "www/secret.txt", false),
        ("**/secret.txt", "www/deep/secret.txt", true),
        ("**/secret.txt", "secret.txt", true),
        ("node_modules", "node_modules/a/b.js", true),
        ("/node_modules", "node_modules/a.js", true),
        ("*.md", "README.md", true),
        ("*.md", "docs/README.md", false),
        ("docs/*.md", "docs/README.md", true),
        ("file?.txt", "file1.txt", true),
        ("file?.txt", "file10.txt", false),
        ("[a-c].txt", "b.txt", true),
        ("[!a-c].txt", "b.txt", false),
        ("*\n!keep.md", "keep.md", false),
        ("*\n!keep.md", "other.md", true),
        ("# a comment\n\nbuild/\n", "build/out.o", true),
        ("./tmp/../cache", "cache/x", true),
    ])
    func dockerIgnoreMatchesAsDockerDoes(_ patterns: String, _ path: String, _ excluded: Bool) throws {
        #expect(try DockerIgnore(patterns).excludes(path) == excluded)
    }
}
