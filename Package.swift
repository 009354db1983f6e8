// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "freezectl",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "CgroupFreezer", targets: ["CgroupFreezer"]),
        .executable(name: "freezectl", targets: ["freezectl"]),
        .executable(name: "freezectl-bench", targets: ["freezectl-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
    ],
    targets: [
        .target(name: "CLinuxSupport"),
        // libsystemd's headers at build time (libsystemd-dev); the library itself is dlopen'ed on first use.
        .target(name: "CSystemd"),
        .target(
            name: "CgroupFreezer",
            dependencies: [
                "CLinuxSupport",
                "CSystemd",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ]
        ),
        .executableTarget(
            name: "freezectl",
            dependencies: [
                "CgroupFreezer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The benchmark harness (scripts/bench.sh): the kernel floor in C, the rest in Swift.
        .target(name: "CKernelFloor"),
        .executableTarget(
            name: "freezectl-bench",
            dependencies: [
                "CgroupFreezer",
                "CKernelFloor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "CgroupFreezerTests",
            // freezectl is a dependency so that `swift test` builds the binary the CLI tests run.
            dependencies: ["CgroupFreezer", "freezectl"],
            resources: [.copy("Fixtures")]
        ),
    ]
)
