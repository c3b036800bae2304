// swift-tools-version:6.1
import PackageDescription

// Every target is compiled in Swift 6 language mode with `any` spelled out for existentials.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "parley",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "parley", targets: ["parley"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.0"),
        .package(url: "https://github.com/vapor/sql-kit", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit", from: "4.5.0"),
        .package(url: "https://github.com/vapor/postgres-kit", from: "2.17.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.34.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.30.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.0.0"),
    ],
    targets: [
        // Shared kernel: typed ids, principals, errors, cursors, clock and id seams, event envelope.
        .target(name: "ParleyCore", swiftSettings: swiftSettings),

        // A C shim for the one SQLite call Swift cannot make (variadic sqlite3_db_config).
        .target(name: "CParleySQLite"),
        // SQL plumbing shared by every context: engines, transactions, dialect helpers, migrations.
        .target(
            name: "ParleyStorage",
            dependencies: [
                "ParleyCore", "CParleySQLite",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // Bounded contexts. None of them imports Hummingbird or NIO directly.
        .target(
            name: "Identity",
            dependencies: [
                "ParleyCore", "ParleyStorage",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Messaging",
            dependencies: ["ParleyCore", "ParleyStorage", .product(name: "SQLKit", package: "sql-kit")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Events",
            dependencies: [
                "ParleyCore", "ParleyStorage",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // The sensitive-word engine: no server dependencies at all (its own module, with its own bench).
        .target(name: "ModerationFilter", exclude: ["Data/LICENSE-OpenCC.txt"], swiftSettings: swiftSettings),
        .executableTarget(name: "parley-filter-bench", dependencies: ["ModerationFilter"], swiftSettings: swiftSettings),
        .target(
            name: "Moderation",
            dependencies: [
                "ParleyCore", "ParleyStorage", "ModerationFilter",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "Notifications",
            dependencies: [
                "ParleyCore", "ParleyStorage", "Events",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            swiftSettings: swiftSettings
        ),

        // Contexts whose issues come later: their targets exist so the boundaries are fixed from the start.
        .target(name: "Interactions", dependencies: ["ParleyCore", "ParleyStorage"], swiftSettings: swiftSettings),
        .target(name: "Support", dependencies: ["ParleyCore", "ParleyStorage"], swiftSettings: swiftSettings),
        .target(name: "Media", dependencies: ["ParleyCore", "ParleyStorage"], swiftSettings: swiftSettings),
        .target(
            name: "Analytics",
            dependencies: [
                "ParleyCore", "ParleyStorage", "Events",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Times DAU/WAU/MAU over 1,000,000 users × 90 days of bitmaps (bench/analytics/README.md); never run by tests.
        .executableTarget(
            name: "parley-analytics-bench",
            dependencies: ["Analytics", "ParleyCore", "ParleyStorage", "Events"],
            path: "bench/analytics",
            exclude: ["README.md", "run.sh"],
            swiftSettings: swiftSettings
        ),
        // Messages persisted per second through the real send path vs the same engine's raw insert rate, and analytics
        // ingest against that rate (bench/ingest/README.md); never run by tests.
        .executableTarget(
            name: "parley-ingest-bench",
            dependencies: [
                "ParleyApp", "ParleyCore", "ParleyStorage", "Identity", "Messaging", "Events", "Analytics", "Moderation",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "bench/ingest",
            exclude: ["README.md", "run.sh"],
            swiftSettings: swiftSettings
        ),

        // Transports.
        .target(
            name: "ParleyOutbound",
            dependencies: [
                "ParleyCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ParleyHTTP",
            dependencies: [
                "ParleyCore", "ParleyStorage", "Identity", "Messaging", "Events", "Moderation", "Notifications", "Analytics",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ParleyRealtime",
            dependencies: [
                "ParleyCore", "ParleyStorage", "Identity", "Messaging", "Events", "ParleyHTTP",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // Composition root and the thin executable.
        .target(
            name: "ParleyApp",
            dependencies: [
                "ParleyCore", "ParleyStorage", "Identity", "Messaging", "Events", "ParleyHTTP", "ParleyRealtime", "ParleyOutbound",
                "Moderation", "Notifications", "Analytics",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "parley",
            dependencies: ["ParleyApp", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),

        .testTarget(name: "ParleyCoreTests", dependencies: ["ParleyCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "IdentityTests",
            dependencies: [
                "Identity", "Events", "ParleyStorage", "ParleyTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MessagingTests",
            dependencies: ["Messaging", "Events", "Identity", "ParleyStorage", "ParleyTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EventsTests",
            dependencies: [
                "Events", "ParleyStorage", "ParleyTestSupport", "ParleyOutbound",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "ModerationFilterTests", dependencies: ["ModerationFilter"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ModerationTests",
            dependencies: ["Moderation", "Events", "Identity", "ParleyStorage", "ParleyTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "NotificationsTests",
            dependencies: [
                "Notifications", "Events", "Identity", "ParleyHTTP", "ParleyStorage", "ParleyTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AnalyticsTests",
            dependencies: [
                "Analytics", "Events", "Identity", "ParleyHTTP", "ParleyStorage", "ParleyTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ParleyAppTests",
            dependencies: [
                "ParleyApp", "ParleyTestSupport", "Notifications",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ParleyRealtimeTests",
            dependencies: [
                "ParleyApp", "ParleyRealtime", "Messaging", "Moderation", "Notifications", "ParleyTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The SMTP client against a real SMTP server (aiosmtpd), plain and STARTTLS.
        .testTarget(
            name: "ParleyOutboundTests",
            dependencies: ["ParleyOutbound", "ParleyCore", "Notifications", "ParleyTestSupport"],
            swiftSettings: swiftSettings
        ),
        // Web Push, APNs and FCM request formats against local HTTP/1.1 and HTTP/2 (TLS) servers.
        .testTarget(
            name: "PushDeliveryTests",
            dependencies: [
                "Notifications", "ParleyOutbound", "ParleyCore", "ParleyTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdHTTP2", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // Helpers every test target shares: temporary SQLite files, the PostgreSQL URL from the environment.
        .target(
            name: "ParleyTestSupport",
            dependencies: [
                "ParleyStorage", "ParleyCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tests/ParleyTestSupport",
            swiftSettings: swiftSettings
        ),
    ]
)
