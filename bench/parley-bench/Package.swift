// swift-tools-version:6.0
import PackageDescription

// parley-bench is its own package: it speaks Parley's HTTP API and WebSocket protocol over SwiftNIO and is
// not part of the server's dependency graph. Build: swift build -c release --package-path bench/parley-bench
let package = Package(
    name: "parley-bench",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "parley-bench", targets: ["parley-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .executableTarget(
            name: "parley-bench",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
    ]
)
