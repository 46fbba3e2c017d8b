/// How `tokenpress serve` listens, schedules and limits requests.
public struct ServerConfiguration: Sendable {
    /// Address to bind: loopback unless asked otherwise.
    public var host = "127.0.0.1"
    /// 0 picks a free port (reported once listening).
    public var port = 8080
    /// The model's name in `/v1/models` and responses.
    public var modelName = "tokenpress"
    /// Sequences decoded together; requests beyond them wait.
    public var parallel = 4
    /// Bytes of KV cache the running sequences may hold together (nil: no limit).
    public var kvMemoryTotal: Int?
    /// Bytes of cached prompts kept for reuse.
    public var cacheRAM = 256 << 20
    /// Requests that may wait; more are refused with 503.
    public var queueLimit = 64
    /// Largest request body (413 beyond).
    public var maxBodyBytes = 8 << 20
    /// Seconds a request's head may take to arrive (the connection is closed beyond), and then its body (408
    /// beyond): a slow client cannot hold a connection for ever.
    public var requestTimeoutSeconds = 30
    /// Seconds a connection may stay idle before it is closed.
    public var idleTimeoutSeconds = 60
    /// When set, every endpoint but `/`, `/health` and `/v1/models` needs `Authorization: Bearer <key>`.
    public var apiKey: String?
    /// Folder where `/slots/{id}?action=save` writes cached prompts and `restore` reads them (nil: off).
    public var slotSavePath: String?
    /// The compression of requests that do not name their own.
    public var defaultCompression = KVCompressionRequest()

    public init() {}
}
