import Foundation
import MicadoCompose
import MicadoCore
import Testing

struct ComposeFileTests {
    static let shop = """
        name: shop
        services:
          web:
            image: shop-web:1
            command: ["httpd", "-f", "-p", "80"]
            entrypoint: /bin/sh -c 'exec "$$0" "$$@"'
            environment:
              BACKEND: api
              MODE: "fast"
            ports: ["8080:80"]
            labels: [tier=front]
            deploy:
              replicas: 2
              resources: {reservations: {memory: 64M}, limits: {memory: 128M, cpus: "0.5"}}
              placement: {constraints: ["node.labels.micado.location == local"]}
              update_config: {parallelism: 1, delay: 2s, order: start-first, monitor: 1m30s}
            x-micado:
              domain: shop.example
              scaling: {min: 1, max: 8, metric: cpu, target: 60, upCooldown: 30s, downStabilization: 5m}
          api:
            image: shop-api
            environment: [A=1, B=x=y]
            x-other: ignored
        """

    @Test func readsWhatStackDeployHonours() throws {
        let app = try ComposeFile.parse(Self.shop, file: "compose.yaml", name: nil, folder: "ignored")
        #expect(app.name.rawValue == "shop")
        #expect(app.services.map(\.name) == ["api", "web"])
        let web = app.services[1]
        #expect(web.image == "shop-web:1")
        #expect(web.command == ["httpd", "-f", "-p", "80"])
        #expect(web.entrypoint == ["/bin/sh", "-c", "exec \"$0\" \"$@\""])
        #expect(web.environment == [.init(key: "BACKEND", value: "api"), .init(key: "MODE", value: "fast")])
        #expect(web.ports == [PortMapping(published: 8080, target: 80)])
        #expect(web.labels == ["tier": "front"])
        #expect(web.replicas == 2)
        #expect(web.memoryReservationMiB == 64 && web.memoryLimitMiB == 128 && web.cpuLimit == 0.5)
        #expect(web.location == "local")
        #expect(web.update?.order == .startFirst && web.update?.delaySeconds == 2 && web.update?.monitorSeconds == 90)
        #expect(web.update?.failureAction == .rollback)
        #expect(web.domain == "shop.example")
        let scaling = try #require(web.scaling)
        #expect(scaling.min == 1 && scaling.max == 8 && scaling.targets == [.init(metric: .cpu, percent: 60)])
        #expect(scaling.upCooldownSeconds == 30 && scaling.downStabilizationSeconds == 300)
        #expect(app.services[0].environment == [.init(key: "A", value: "1"), .init(key: "B", value: "x=y")])
    }

    /// YAML merge keys, a Compose idiom: the merged keys fill in, the written ones win.
    @Test func mergeKeysFillIn() throws {
        let text = """
            x-common: &common
              image: busybox:local
              environment: {MODE: slow}
              deploy: {replicas: 2}
            services:
              web:
                <<: *common
                environment: {MODE: fast}
              api:
                <<: [*common]
            """
        let app = try ComposeFile.parse(text, file: "f", name: "m", folder: nil)
        #expect(
            app.services.map { "\($0.name) \($0.image) \($0.replicas ?? 0) \($0.environment)" } == [
                "api busybox:local 2 [MODE=slow]", "web busybox:local 2 [MODE=fast]",
            ]
        )
        #expect(throws: MicadoError.self) { try ComposeFile.parse("services:\n  web:\n    <<: 3\n", file: "f", name: "m", folder: nil) }
    }

    @Test func theNameComesFromTheFlagThenTheFileThenTheFolder() throws {
        let body = "services:\n  web:\n    image: x\n"
        #expect(try ComposeFile.parse("name: a\n" + body, file: "f", name: "b", folder: "c").name.rawValue == "b")
        #expect(try ComposeFile.parse("name: a\n" + body, file: "f", name: nil, folder: "c").name.rawValue == "a")
        #expect(try ComposeFile.parse(body, file: "f", name: nil, folder: "My_Shop.2").name.rawValue == "myshop2")
        #expect(throws: MicadoError.self) { try ComposeFile.parse(body, file: "f", name: nil, folder: "___") }
    }

    /// Each bad file is refused with its line and field.
    @Test(arguments: [
        (
            "services:\n  web:\n    image: x\n    volumes: [a:/b]\n",
            "compose.yaml:4: services.web.volumes[0]: 'a' is not declared in the file's volumes"
        ),
        (
            "services:\n  web:\n    image: x\n    deploy: {replicas: two}\n",
            "compose.yaml:4: services.web.deploy.replicas must be a whole number"
        ),
        (
            "services:\n  web:\n    image: x\n    ports: [\"80:80\"]\n  api:\n    image: y\n    ports: [\"80:81\"]\n",
            "compose.yaml:3: services.web.ports: port 80 is already published by services.api"
        ),
        (
            "services:\n  web:\n    image: x\n    x-micado: {scaling: {min: 1, max: 3, metric: cpu, target: 50, upCooldown: soon}}\n",
            "compose.yaml:4: services.web.x-micado.scaling.upCooldown must be a duration"
        ),
        (
            "services:\n  web:\n    image: x\n    x-micado: {scaling: {min: 4, max: 3, metric: cpu, target: 50}}\n",
            "max (3) is below min (4)"
        ),
        ("services:\n  web:\n    image: x\n    x-micado: {domain: a.example}\n", "needs exactly one published port"),
        ("services:\n  Web:\n    image: x\n", "invalid service name 'Web'"),
        ("services:\n  web:\n    command: sleep 1\n", "compose.yaml:3: services.web.image is missing"),
        ("services:\n  web:\n    image: x\n    environment: {A: }\n", "services.web.environment.A must have a value"),
        ("services:\n  web:\n    image: x\n    environment: [\"A=\\u001b]0;t\\u0007\"]\n", "control character"),
        ("services:\n  web:\n    image: x\n    labels: {micado.manager: me}\n", "is not a label key micado allows"),
        (
            "services:\n  web:\n    image: x\n    deploy: {placement: {constraints: [node.role == worker]}}\n",
            "only 'node.labels.micado.location == LOCATION'"
        ),
        ("services:\n  web:\n    image: x\n    ports: [\"80\"]\n", "must be PUBLISHED:TARGET"),
        ("services:\n  web:\n    image: x\n    deploy: {resources: {limits: {memory: 1Q}}}\n", "must be a size such as 64M"),
        ("services:\n  web:\n    image: x\n    command: \"echo 'open\"\n", "has an unclosed quote"),
        (
            "include: [other.yaml]\nservices:\n  web:\n    image: x\n",
            "compose.yaml:1: include is not supported by micado: include is not supported"
        ),
        ("services:\n  web:\n    image: x\n    imagee: y\n", "compose.yaml:4: 'services.web.imagee' is not a Compose key"),
        (
            "services:\n  web:\n    image: x\n    privileged: true\n",
            "services.web.privileged is not supported by micado: Swarm services cannot run privileged"
        ),
        ("services:\n  web:\n    image: x\n    depends_on: [db]\n", "services.web.depends_on: 'db' is not a service of the file"),
        (
            "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n",
            "depends_on makes a cycle: a → b → a"
        ),
        ("services:\n  web:\n    image: x\n    networks: [front]\n", "network 'front' is not declared"),
        ("networks: {outside: {external: true}}\nservices:\n  web:\n    image: x\n", "networks.outside.external"),
        (
            "services:\n  web:\n    image: \"x:${TAG:?give a tag}\"\n",
            "compose.yaml:3: services.web.image: TAG is not set or empty: give a tag"
        ),
        ("services:\n  web:\n    image: \"x:$1\"\n", "services.web.image: '$1' is not an interpolation"),
        ("services:\n  web:\n    image: x\n    restart: sometimes\n", "services.web.restart must be no, always"),
        ("services:\n  web:\n    image: x\n    healthcheck: {test: [RUN, x]}\n", "must start with CMD, CMD-SHELL or NONE"),
        ("services:\n  web:\n    image: x\n    ulimits: {nofile: {soft: 9, hard: 1}}\n", "soft (9) is above hard (1)"),
        ("services:\n  web:\n    image: x\n    extra_hosts: [\"db:not-an-ip\"]\n", "must map a host name to an IP address"),
        // Found by the attack review: what would reach past the container, or send its logs away.
        ("services:\n  web:\n    image: x\n    cap_add: [ALL]\n", "ALL would let the container take its instance"),
        ("services:\n  web:\n    image: x\n    cap_add: [sys_admin]\n", "CAP_SYS_ADMIN would let the container take its instance"),
        ("services:\n  web:\n    image: x\n    sysctls: {kernel.core_pattern: \"|/bin/sh\"}\n", "kernel.core_pattern is the instance's"),
        ("services:\n  web:\n    image: x\n    sysctls: [\"net.ipv4.ip_forward=1=2\"]\n", "is not a value for it"),
        ("services:\n  web:\n    image: x\n    tmpfs: [/proc]\n", "/proc is the container's own"),
        (
            "services:\n  web:\n    image: x\n    logging: {driver: syslog, options: {syslog-address: \"tcp://192.0.2.1:1\"}}\n",
            "syslog would send the logs"
        ),
        ("services:\n  web:\n    image: x\n    labels: {\"a=b\": c}\n", "is not a label key micado allows"),
        ("services:\n  web:\n    image: x\n    deploy: {labels: {com.docker.stack.namespace: x}}\n", "is not a label key micado allows"),
        ("services:\n  web:\n    image: x\n    dns_search: [\"a b\"]\n", "is not a domain"),
        ("services: [web]\n", "services must be a mapping"),
        ("services:\n  web:\n    image: x\n  web:\n    image: y\n", "duplicated key(s): 'web'. in line 2"),
        ("services: {\n", "not valid YAML"),
        (
            "services:\n  web:\n    image: x\n    x-micado: {scaling: {min: 0, max: 3, metric: cpu, target: 50}}\n",
            "min must be between 1 and 1000"
        ),
        ("services:\n  web:\n    image: x\n    deploy: {resources: {limits: {cpus: \"0x10\"}}}\n", "cpus must be a decimal number"),
        ("services:\n  web:\n    image: x\n    deploy: {resources: {limits: {memory: 1e3M}}}\n", "must be a size such as 64M"),
        ("services:\n  web:\n    image: x\n    environment: {A: [1, 2]}\n", "services.web.environment.A must be a text value"),
    ])
    func badFilesNameTheLineAndField(_ text: String, _ message: String) {
        #expect {
            try ComposeFile.parse(text, file: "compose.yaml", name: "app", folder: nil)
        } throws: { error in
            (error as? MicadoError)?.message.contains(message) == true && (error as? MicadoError)?.code == .badRequest
        }
    }

    @Test func aHugeFileIsRefusedBeforeParsing() {
        let text = "services:\n  web:\n    image: x\n" + String(repeating: "# padding\n", count: 40_000)
        #expect { try ComposeFile.parse(text, file: "f", name: "a", folder: nil) } throws: { ($0 as? MicadoError)?.code == .tooLarge }
    }

    /// Anchors and aliases nested nine deep (a billion scalars if expanded): refused by their
    /// count, wherever they are put (an extension field too), before anything reads them.
    @Test func aliasBombsAreCountedNotExpanded() {
        var bomb = "x-a0: &a0 [l, l, l, l, l, l, l, l, l, l]\n"
        for level in 1...9 {
            bomb += "x-a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        for place in ["    x-deep: *a9\n", "    environment: *a9\n", "    labels: *a9\n", "    command: *a9\n", "    ports: *a9\n"] {
            #expect {
                try ComposeFile.parse(bomb + "services:\n  web:\n    image: x\n" + place, file: "f", name: "a", folder: nil)
            } throws: {
                ($0 as? MicadoError)?.code == .tooLarge && ($0 as? MicadoError)?.message.contains("aliases counted each time") == true
            }
        }
    }

    /// Text is counted as well as nodes: a thousand labels that all point at one 60 KB anchor
    /// are 60 MB to read and check; refused by the count, naming the line.
    @Test func wideAliasesAreCountedInBytes() {
        let anchor = "x-big: &big \"" + String(repeating: "a", count: 60_000) + "\"\n"
        let labels = (0..<1000).map { "      l\($0): *big" }.joined(separator: "\n")
        let text = anchor + "services:\n  web:\n    image: x\n    labels:\n" + labels + "\n"
        #expect { try ComposeFile.parse(text, file: "f", name: "a", folder: nil) } throws: { error in
            guard let error = error as? MicadoError else { return false }
            return error.code == .tooLarge && error.message.hasPrefix("f:") && error.message.contains("4 MiB of text")
        }
        // Anchors shared as Compose files share them stay well inside the bound.
        let shared =
            "x-env: &env\n  A: \"" + String(repeating: "v", count: 1000) + "\"\nservices:\n"
            + (0..<50).map { "  s\($0):\n    image: x\n    environment: *env\n" }.joined()
        #expect(throws: Never.self) { try ComposeFile.parse(shared, file: "f", name: "a", folder: nil) }
    }

    /// Merge keys of merge keys through aliases are counted, not walked once per path.
    @Test func mergeBombsAreRefused() {
        var text = "x-m0: &m0 {a: 1}\n"
        for level in 1...9 {
            text += "x-m\(level): &m\(level) {<<: [" + Array(repeating: "*m\(level - 1)", count: 10).joined(separator: ", ") + "]}\n"
        }
        text += "services:\n  web: {<<: *m9, image: x}\n"
        #expect { try ComposeFile.parse(text, file: "f", name: "a", folder: nil) } throws: {
            ($0 as? MicadoError)?.message.contains("aliases counted each time") == true
        }
    }

    /// A key holding an alias bomb would hash for hours in the composer: refused before.
    @Test func aliasesInKeysAreRefused() {
        var text = "x-b: [&a0 [l, l, l, l, l, l, l, l, l, l]"
        for level in 1...9 { text += ", &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]" }
        text += "]\nservices:\n  web:\n    image: x\n    x-k:\n      ? *a9\n      : v\n"
        #expect { try ComposeFile.parse(text, file: "f", name: "a", folder: nil) } throws: {
            ($0 as? MicadoError)?.message.contains("alias inside a mapping key") == true
        }
    }

    /// Nesting that would exhaust the composer's stack is refused before it is composed.
    @Test func deepNestingIsRefusedNotACrash() {
        for text in [
            "services:\n  web:\n    image: x\n    x-deep: " + String(repeating: "[", count: 100_000),
            "services:\n  web:\n    image: x\n    x-deep: " + String(repeating: "{a: ", count: 50_000),
            (0..<200).map { String(repeating: " ", count: $0 * 2) + "k\($0):" }.joined(separator: "\n"),
            (0..<200).map { String(repeating: " ", count: $0 * 2) + "- " }.joined(separator: "\n"),
        ] {
            #expect { try ComposeFile.parse(text, file: "f", name: "a", folder: nil) } throws: {
                ($0 as? MicadoError)?.message.contains("levels deep") == true
            }
        }
        // Brackets in quotes and comments do not count.
        let fine =
            "services:\n  web:\n    image: x\n    command: [sh, -c, \"echo '" + String(repeating: "[", count: 100) + "'\"]  # "
            + String(repeating: "{", count: 100) + "\n"
        #expect(throws: Never.self) { try ComposeFile.parse(fine, file: "f", name: "a", folder: nil) }
    }

    @Test func durationsAndSizesAndWords() {
        #expect(ComposeDuration.seconds("1m30s") == 90)
        #expect(ComposeDuration.seconds("100ms") == 0.1)
        #expect(ComposeDuration.seconds("1h") == 3600)
        #expect(ComposeDuration.seconds("5") == nil)
        #expect(ComposeDuration.seconds("m") == nil)
        #expect(ComposeBytes.bytes("64M") == 64 << 20)
        #expect(ComposeBytes.bytes("1gb") == 1 << 30)
        #expect(ComposeBytes.bytes("2048") == 2048)
        #expect(ComposeBytes.bytes("-1m") == nil)
        #expect(ComposeBytes.bytes("1e30g") == nil)
        #expect(ShellWords.split(#"a "b c" 'd e' f\ g"#) == ["a", "b c", "d e", "f g"])
        #expect(ShellWords.split("''") == [""])
        #expect(ShellWords.split("'open") == nil)
    }
}
