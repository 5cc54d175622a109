// swift-tools-version:6.1
import PackageDescription

// Microbenchmarks of the gateway's pure hot paths (ordo-one/benchmark). A package of its own so that the main
// package does not depend on the benchmark tooling. Run with `bench/micro.sh`, or:
//   swift package --package-path Benchmarks benchmark
let package = Package(
    name: "swift-error-gateway-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "swift-error-gateway", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: [
        .executableTarget(
            name: "NormalizerBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "ErrorNormalization", package: "swift-error-gateway"),
                .product(name: "GatewayCore", package: "swift-error-gateway"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/NormalizerBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "CoreBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "GatewayCore", package: "swift-error-gateway"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "Benchmarks/CoreBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "RateLimitBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "GatewayCore", package: "swift-error-gateway"),
            ],
            path: "Benchmarks/RateLimitBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
