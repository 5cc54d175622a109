/// A rate such as `100/1m`: `count` tokens per `period`.
public struct Rate: Sendable, Hashable, CustomStringConvertible {
    public var count: Int
    public var period: Duration

    public init(count: Int, period: Duration) {
        self.count = count
        self.period = period
    }

    /// The time one token takes to come back.
    public var emissionInterval: Duration { self.period / self.count }

    public var description: String { "\(self.count)/\(self.period)" }
}

/// What a rate-limit policy counts requests by (SPEC section 2, `rate_limits.*.key`).
public enum RateLimitKey: Sendable, Hashable, CustomStringConvertible {
    /// The socket peer, or the right-most untrusted `X-Forwarded-For` address from a trusted proxy.
    case clientIP
    /// A request header's value; a request without it falls back to its client IP.
    case header(String)
    /// One bucket per route.
    case route
    /// One bucket for every request.
    case global

    public var description: String {
        switch self {
        case .clientIP: return "client_ip"
        case .header(let name): return "header:\(name)"
        case .route: return "route"
        case .global: return "global"
        }
    }
}

/// One named token-bucket policy.
public struct RateLimitPolicy: Sendable, Hashable {
    public var name: String {
        didSet { self.renderHeaderText() }
    }
    public var rate: Rate {
        didSet { self.renderHeaderText() }
    }
    /// The bucket's capacity; defaults to the rate's count.
    public var burst: Int {
        didSet { self.renderHeaderText() }
    }
    public var key: RateLimitKey
    /// The name as a structured-field string (`"per_client"`), for the `RateLimit` field's item.
    public private(set) var quotedName = ""
    /// This policy's item of the `RateLimit-Policy` field (`"per_client";q=20;w=12`): the same on every response,
    /// so written once (see ``RateLimitHeaders``).
    public private(set) var policyItem = ""

    public init(name: String, rate: Rate, burst: Int? = nil, key: RateLimitKey) {
        self.name = name
        self.rate = rate
        self.burst = burst ?? rate.count
        self.key = key
        self.renderHeaderText()
    }

    private mutating func renderHeaderText() {
        self.quotedName = RateLimitHeaders.quoted(self.name)
        self.policyItem = RateLimitHeaders.policyItem(self)
    }
}

/// Where token buckets live (`rate_limit_store`).
public enum RateLimitStoreConfiguration: Sendable, Hashable {
    /// What to do with requests when the shared store cannot be reached.
    public enum FailureMode: String, Sendable, CaseIterable {
        case allow
        case deny
    }

    /// In this process (the default).
    case memory
    /// Shared through Redis.
    case redis(RedisStoreConfiguration)
}

/// The Redis store's connection settings.
public struct RedisStoreConfiguration: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var database: Int
    public var username: String?
    public var password: String?
    public var onFailure: RateLimitStoreConfiguration.FailureMode
    public var timeout: Duration

    public init(
        host: String, port: Int = 6379, database: Int = 0, username: String? = nil, password: String? = nil,
        onFailure: RateLimitStoreConfiguration.FailureMode = .allow, timeout: Duration = .milliseconds(50)
    ) {
        self.host = host
        self.port = port
        self.database = database
        self.username = username
        self.password = password
        self.onFailure = onFailure
        self.timeout = timeout
    }
}
