/// What micado does with each key of the Compose specification: every key has a fate, and
/// docs/compose.md is this table (a test compares the two). A key outside the table is not
/// Compose and is refused by name, as are misspellings; `x-` keys are the specification's
/// own extensions and pass.
public enum ComposeKeyFate: Sendable, Equatable {
    /// Read and carried out.
    case honoured
    /// Accepted, and the plan warns that it is not carried out: Swarm cannot, and running
    /// without it is still right (as `docker stack deploy` does).
    case warned(String)
    /// Refused by line and field: running without it would be wrong.
    case refused(String)
}

public enum ComposeKeys {
    /// The file's top level.
    public static let topLevel: [(key: String, fate: ComposeKeyFate)] = [
        ("configs", .honoured),
        ("include", .refused("include is not supported: merge the files into one")),
        ("models", .refused("models are not supported")),
        ("name", .honoured),
        ("networks", .honoured),
        ("secrets", .honoured),
        ("services", .honoured),
        ("version", .warned("version is obsolete, as the specification says, and ignored")),
        ("volumes", .honoured),
    ]

    static let swarmSchedules = "Swarm schedules the service's tasks itself"
    static let noHostAccess = "no instance holds the user's folders or devices"

    /// A service's keys.
    public static let service: [(key: String, fate: ComposeKeyFate)] = [
        ("annotations", .refused("annotations are not supported by Swarm services")),
        ("attach", .warned("attach only concerns docker compose up's output; micado logs shows any service's")),
        ("blkio_config", .refused("Swarm services have no block IO limits")),
        ("build", .honoured),
        ("cap_add", .honoured),
        ("cap_drop", .honoured),
        ("cgroup", .refused("Swarm services cannot choose their cgroup namespace")),
        ("cgroup_parent", .refused("Swarm services cannot choose their parent cgroup")),
        ("command", .honoured),
        ("configs", .honoured),
        ("container_name", .warned("Swarm names each task's container itself (as docker stack deploy does); use the service's name")),
        ("cpu_count", .refused("use deploy.resources.limits.cpus")),
        ("cpu_percent", .refused("use deploy.resources.limits.cpus")),
        ("cpu_period", .refused("use deploy.resources.limits.cpus")),
        ("cpu_quota", .refused("use deploy.resources.limits.cpus")),
        ("cpu_rt_period", .refused("Swarm services have no real-time CPU settings")),
        ("cpu_rt_runtime", .refused("Swarm services have no real-time CPU settings")),
        ("cpu_shares", .refused("use deploy.resources.limits.cpus")),
        ("cpus", .refused("use deploy.resources.limits.cpus")),
        ("cpuset", .refused("Swarm services cannot be pinned to CPUs")),
        ("credential_spec", .refused("credential specs are for Windows containers")),
        ("depends_on", .honoured),
        ("deploy", .honoured),
        ("develop", .warned("develop only concerns docker compose watch")),
        ("device_cgroup_rules", .refused(noHostAccess)),
        ("devices", .refused(noHostAccess)),
        ("dns", .honoured),
        ("dns_opt", .honoured),
        ("dns_search", .honoured),
        ("domainname", .refused("Swarm services have no domain name setting; use hostname")),
        ("entrypoint", .honoured),
        ("env_file", .honoured),
        ("environment", .honoured),
        ("expose", .honoured),
        ("extends", .refused("extends is not supported: write the service out")),
        ("external_links", .refused("external_links is obsolete: services reach each other by name on the application's network")),
        ("extra_hosts", .honoured),
        ("gpus", .refused("micado schedules memory, not GPUs")),
        ("group_add", .honoured),
        ("healthcheck", .honoured),
        ("hostname", .honoured),
        ("image", .honoured),
        ("init", .honoured),
        ("ipc", .refused("Swarm services cannot share an IPC namespace")),
        ("isolation", .refused("isolation is for Windows containers")),
        ("label_file", .refused("label_file is not supported: give labels")),
        ("labels", .honoured),
        ("links", .warned("links are obsolete: services reach each other by name on the application's network")),
        ("logging", .honoured),
        ("mac_address", .refused(swarmSchedules + " and their addresses")),
        ("mem_limit", .refused("use deploy.resources.limits.memory")),
        ("mem_reservation", .refused("use deploy.resources.reservations.memory")),
        ("mem_swappiness", .refused("Swarm services have no swappiness setting")),
        ("memswap_limit", .refused("Swarm services have no swap limit")),
        ("models", .refused("models are not supported")),
        ("network_mode", .refused("a Swarm service runs on the application's overlay network")),
        ("networks", .honoured),
        ("oom_kill_disable", .refused("Swarm services cannot turn off the OOM killer")),
        ("oom_score_adj", .refused("Swarm services have no OOM score setting")),
        ("pid", .refused("Swarm services cannot share a PID namespace")),
        ("pids_limit", .refused("Swarm services have no PID limit on this engine (API 1.41)")),
        ("platform", .refused("micado's instances are linux/amd64; build for it")),
        ("ports", .honoured),
        ("post_start", .refused("Swarm services have no lifecycle hooks")),
        ("pre_stop", .refused("Swarm services have no lifecycle hooks")),
        ("privileged", .refused("Swarm services cannot run privileged; use cap_add")),
        ("profiles", .refused("profiles are not supported: every service of the file runs")),
        ("provider", .refused("providers are not supported")),
        ("pull_policy", .warned("instances pull an image when they do not have it")),
        ("pull_refresh_after", .warned("instances pull an image when they do not have it")),
        ("read_only", .honoured),
        ("restart", .honoured),
        ("runtime", .refused("Swarm services use the engine's runtime")),
        ("scale", .refused("use deploy.replicas")),
        ("secrets", .honoured),
        ("security_opt", .refused("Swarm services take no security options on this engine (API 1.41)")),
        ("shm_size", .honoured),
        ("stdin_open", .honoured),
        ("stop_grace_period", .honoured),
        ("stop_signal", .honoured),
        ("storage_opt", .refused("Swarm services have no storage options")),
        ("sysctls", .honoured),
        ("tmpfs", .honoured),
        ("tty", .honoured),
        ("ulimits", .honoured),
        ("use_api_socket", .refused("a service never reaches an engine's socket through micado")),
        ("user", .honoured),
        ("userns_mode", .refused("Swarm services cannot choose their user namespace")),
        ("uts", .refused("Swarm services cannot share the host's UTS namespace")),
        ("volumes", .honoured),
        ("volumes_from", .refused("volumes_from is not supported")),
        ("working_dir", .honoured),
        ("x-micado", .honoured),
    ]

    static let serviceFates = Dictionary(uniqueKeysWithValues: service.map { ($0.key, $0.fate) })
    static let topLevelFates = Dictionary(uniqueKeysWithValues: topLevel.map { ($0.key, $0.fate) })
}
