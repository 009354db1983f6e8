// swift-tools-version:6.0
import PackageDescription

// The modules mirror the concepts and their dependencies (docs/architecture.md):
//
//   CgroupFreezer       the core: layout, freezer backends, processes, cgroup and PID targets,
//                       errors, audit. swift-system and swift-log only.
//   ContainerRuntimes   runc/crun state, the catalog of containers, filters, systemd's manager:
//                       who owns a container or unit. + libsystemd (dlopen'ed).
//   ContainerEngines    the engines' clients: the Docker Engine API (Docker and podman),
//                       containerd's gRPC API. + async-http-client, grpc-swift.
//   HealthProbes        exec, HTTP and TCP probes, bounded process groups. + swift-subprocess.
//   FreezerOperations   one resolver from a target to a route (kernel, engine, systemd),
//                       selections, batches, status, health after a thaw, audit of results.
//   CRIUCheckpoint      checkpoint and restore with CRIU, the restore marker, the hook contract.
//
// An embedder that only freezes cgroups links CgroupFreezer alone.

// What `--version` reports (BuildInfo). The commit comes from FREEZECTL_COMMIT, which
// scripts/build-release.sh sets from git: SwiftPM evaluates a manifest again when the environment
// changes but not when HEAD moves, so Context.gitInformation would name a stale commit in a build
// tree. Only hex digits and `-dirty` pass, since the value becomes a C string constant.
let freezectlVersion = "0.1.0"
let buildCommit: String = {
    guard let commit = Context.environment["FREEZECTL_COMMIT"], !commit.isEmpty,
          commit.allSatisfy({ "0123456789abcdef-dirty".contains($0) }) else { return "unknown" }
    return commit
}()

let package = Package(
    name: "freezectl",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "CgroupFreezer", targets: ["CgroupFreezer"]),
        .library(name: "ContainerRuntimes", targets: ["ContainerRuntimes"]),
        .library(name: "ContainerEngines", targets: ["ContainerEngines"]),
        .library(name: "HealthProbes", targets: ["HealthProbes"]),
        .library(name: "FreezerOperations", targets: ["FreezerOperations"]),
        .library(name: "CRIUCheckpoint", targets: ["CRIUCheckpoint"]),
        .library(name: "FreezectlClient", targets: ["FreezectlClient"]),
        .executable(name: "freezectl", targets: ["freezectl"]),
        .executable(name: "freezectl-engines", targets: ["freezectl-engines"]),
        .executable(name: "freezectl-bench", targets: ["freezectl-bench"]),
        .executable(name: "embedding-example", targets: ["embedding-example"]),
        .executable(name: "freezectld", targets: ["freezectld"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .target(name: "CLinuxSupport"),
        // The one command-line parser (freezectl's command tree and freezectld's options): specs,
        // the parse, help, man pages and completions from the same tables.
        .target(name: "CommandSyntax"),
        .target(
            name: "CBuildInfo",
            cSettings: [
                .define("FREEZECTL_VERSION", to: "\"\(freezectlVersion)\""),
                .define("FREEZECTL_COMMIT", to: "\"\(buildCommit)\""),
            ]
        ),
        // libsystemd's headers at build time (libsystemd-dev); the library itself is dlopen'ed on first use.
        .target(name: "CSystemd"),
        .target(
            name: "CgroupFreezer",
            dependencies: [
                "CLinuxSupport",
                "CSystemd",
                "CBuildInfo",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // containerd's gRPC messages and client stubs, generated from our own minimal .proto files
        // (scripts/generate-containerd-api.sh) and committed, so a build needs no protoc.
        .target(
            name: "ContainerdAPI",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["Protos"]
        ),
        // runc/crun state, the catalog, filters and the engine protocol: no network client, so the
        // kernel-side CLI links it (docs/architecture.md).
        .target(
            name: "ContainerRuntimes",
            dependencies: [
                "CgroupFreezer",
                "CSystemd",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .target(
            name: "ContainerEngines",
            dependencies: [
                "CgroupFreezer",
                "ContainerRuntimes",
                "ContainerdAPI",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "HealthProbes",
            dependencies: [
                "CgroupFreezer",
                "FreezerOperations",
                "ContainerEngines",
                "ContainerRuntimes",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ]
        ),
        .target(
            name: "FreezerOperations",
            dependencies: [
                "CgroupFreezer",
                "ContainerRuntimes",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "CRIUCheckpoint",
            dependencies: [
                "CgroupFreezer",
                "ContainerEngines",
                "ContainerRuntimes",
                "FreezerOperations",
                "HealthProbes",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ]
        ),
        // The JSON a caller gets (the CLI's --format json, the daemon's answers) and the advice per error.
        .target(
            name: "FreezectlReports",
            dependencies: [
                "CgroupFreezer",
                "ContainerRuntimes",
                "FreezerOperations",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // freezectld's API bodies (docs/api.yaml): the daemon writes them, FreezectlClient reads them.
        .target(
            name: "FreezectlAPI",
            dependencies: [
                "CgroupFreezer",
                "FreezerOperations",
                "FreezectlReports",
                "HealthProbes",
            ]
        ),
        // A client of freezectld's API: the CLI's --host, and Swift programs.
        .target(
            name: "FreezectlClient",
            dependencies: [
                "CgroupFreezer",
                "ContainerEngines",
                "ContainerRuntimes",
                "FreezectlAPI",
                "FreezectlReports",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // freezectld: the library over a unix-socket HTTP API (docs/daemon.md).
        .target(
            name: "FreezectlDaemon",
            dependencies: [
                "CLinuxSupport",
                "CgroupFreezer",
                "ContainerEngines",
                "ContainerRuntimes",
                "FreezerOperations",
                "FreezectlAPI",
                "FreezectlReports",
                "HealthProbes",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "freezectld",
            dependencies: [
                "CgroupFreezer",
                "FreezectlDaemon",
                "CommandSyntax",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            // Linked by lld as freezectl is: packed relative relocations (RELR; 3.5 MiB of
            // .rela.dyn were read at every start and kept resident), no exported symbols, and the
            // functions the daemon runs laid out together (scripts/freezectld-hot-code.order, made by
            // scripts/hot-code-order.sh freezectld): docs/performance.md, "freezectld at the kernel's pace".
            linkerSettings: [.unsafeFlags([
                "-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic",
                "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/scripts/freezectld-hot-code.order",
                "-Xlinker", "--no-warn-symbol-ordering",
            ], .when(configuration: .release))]
        ),
        // The command tree of freezectl and freezectl-engines, and the kernel-side routes: no
        // network client, FoundationEssentials only (issue 16, docs/performance.md).
        .target(
            name: "FreezectlCLI",
            dependencies: [
                "CLinuxSupport",
                "CommandSyntax",
                "CgroupFreezer",
                "ContainerRuntimes",
                "FreezerOperations",
                "FreezectlReports",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Release builds link freezectl as a static PIE (docs/performance.md, step 19): no dynamic
        // loader at each start (libc, libm and libgcc_s mapped, relocated and bound), while the
        // image keeps ASLR (a non-PIE image was declined: a root tool that parses what a container
        // writes). GNU gold cannot link a static PIE, so the toolchain's lld does, and lays out the
        // functions an everyday command runs together (scripts/hot-code.order, step 18). libsystemd
        // (the journal) and NSS (the audit's user name) are still loaded with dlopen, which a static
        // glibc does by loading the system's libc beside it.
        .executableTarget(
            name: "freezectl", dependencies: ["FreezectlCLI"],
            linkerSettings: [.unsafeFlags([
                "-static-executable", "-use-ld=lld", "-Xclang-linker", "-static-pie",
                "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/scripts/hot-code.order",
                "-Xlinker", "--no-warn-symbol-ordering", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
            ], .when(configuration: .release))]
        ),
        // What freezectl hands over: the same tree with the engines, probes, CRIU and the daemon's client.
        .executableTarget(
            name: "freezectl-engines",
            dependencies: [
                "CLinuxSupport",
                "CgroupFreezer",
                "ContainerEngines",
                "ContainerRuntimes",
                "HealthProbes",
                "FreezerOperations",
                "CRIUCheckpoint",
                "FreezectlAPI",
                "FreezectlReports",
                "FreezectlClient",
                "FreezectlCLI",
                "CommandSyntax",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // docs/embedding.md as a program: an orchestrator's use of the library, run by CI on a scratch cgroup.
        .executableTarget(
            name: "embedding-example",
            dependencies: [
                "CgroupFreezer",
                "ContainerRuntimes",
                "ContainerEngines",
                "FreezerOperations",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Examples/Embedding"
        ),
        // Fuzzing (scripts/fuzz.sh, docs/reliability.md): every parser of outside input with the
        // property it must keep; run under libFuzzer by freezectl-fuzz, replayed by the unit tests.
        .target(name: "CFuzzDriver"),
        .target(
            name: "FuzzHarnesses",
            dependencies: [
                "CgroupFreezer",
                "ContainerEngines",
                "ContainerRuntimes",
                "ContainerdAPI",
                "FreezerOperations",
                "FreezectlAPI",
                "FreezectlReports",
                "FreezectlDaemon",
                "CRIUCheckpoint",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .executableTarget(name: "freezectl-fuzz", dependencies: ["FuzzHarnesses", "CFuzzDriver"]),
        // The benchmark harness (scripts/bench.sh): the kernel floor in C, the rest in Swift.
        .target(name: "CKernelFloor"),
        .executableTarget(
            name: "freezectl-bench",
            dependencies: [
                "CgroupFreezer",
                "CKernelFloor",
                "CommandSyntax",
                // The library's own batch by label, which freezectld's is measured against.
                "ContainerRuntimes",
                "FreezerOperations",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // Pure logic, no root, no cgroups: `swift test --filter UnitTests`.
        .testTarget(
            name: "UnitTests",
            dependencies: ["CgroupFreezer", "CLinuxSupport", "ContainerRuntimes", "ContainerEngines", "FreezerOperations", "CRIUCheckpoint", "FreezectlReports", "FreezectlDaemon", "FuzzHarnesses", "FreezectlCLI", "CommandSyntax",
                           .product(name: "AsyncHTTPClient", package: "async-http-client"),
                           .product(name: "SystemPackage", package: "swift-system")],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "CgroupFreezerTests",
            // freezectl is a dependency so that `swift test` builds the binary the CLI tests run.
            dependencies: ["CgroupFreezer", "HealthProbes", "CRIUCheckpoint", "FreezectlReports",
                           .product(name: "SystemPackage", package: "swift-system")],
            resources: [.copy("Fixtures")]
        ),
    ]
)

// scripts/fuzz.sh builds with FREEZECTL_FUZZ_BUILD=1: the address sanitizer and libFuzzer's
// coverage (what -sanitize=fuzzer adds) go into our own modules, FUZZING into freezectl-fuzz (its
// main is then libFuzzer's driver). With every dependency instrumented for coverage too (SwiftNIO,
// grpc-swift, Hummingbird, ...) libFuzzer spent four fifths of each execution scanning and
// clearing their counters, for code that parses none of our input. (A second -sanitize= would
// replace the first, hence -sanitize-coverage.) The flags are per target, so the dependencies
// compile as in any build of that configuration: `fuzz.sh --debug` (CI) reuses the test build's
// dependencies and compiles only our modules again; the full run (release) adds the sanitizer to
// the dependencies with -Xswiftc. Linked with the toolchain's lld: GNU gold (the default here)
// fails on the sanitizers' objects ("internal error in format_file_lineno").
if Context.environment["FREEZECTL_FUZZ_BUILD"] == "1" {
    let cTargets: Set = ["CLinuxSupport", "CSystemd", "CBuildInfo", "CFuzzDriver", "CKernelFloor"]
    for target in package.targets where target.type != .test && !cTargets.contains(target.name) {
        target.swiftSettings = (target.swiftSettings ?? []) + [
            .unsafeFlags(["-sanitize=address", "-sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp"])
        ]
        if target.name == "freezectl-fuzz" {
            target.swiftSettings = (target.swiftSettings ?? []) + [.define("FUZZING")]
        }
        if target.type == .executable {
            target.linkerSettings = (target.linkerSettings ?? []) + [.unsafeFlags(["-sanitize=fuzzer,address", "-use-ld=lld"])]
        }
    }
}
