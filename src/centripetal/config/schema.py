"""The typed configuration schema: Centrifugo v6 nested layout (spec §5.2, §6, §9, §11, App. B).

One source for file parsing, environment variables, CLI flags, ``genconfig``/``defaultconfig``
and the generated reference. Attribute paths equal the v6 key paths, for example
``config.client.token.hmac_secret_key`` or ``config.channel.without_namespace.history_size``.

Conventions: durations are ``float`` seconds here (files and env carry Go-style strings such
as ``"25s"`` or ``"720h"``; the loader converts them). Flat v3/v4/v5 keys are mapped onto this
schema by ``config.legacy`` before decoding.
"""

from __future__ import annotations

import msgspec

# Names of the fields that hold durations (seconds) are listed in DURATION_FIELDS so the loader
# can convert "1s" strings; everything else decodes by type.


class _S(msgspec.Struct, kw_only=True, omit_defaults=False, forbid_unknown_fields=False):
    pass


class Override(_S):
    """Per-subscription overrides (AU-02, PX-12)."""

    presence: bool | None = None
    join_leave: bool | None = None
    force_push_join_leave: bool | None = None
    force_recovery: bool | None = None
    force_positioning: bool | None = None


class MapOptions(_S):
    """Namespace ``map`` options (experimental map subscriptions, CH-49)."""

    mode: str = ""
    key_ttl: float = 0.0
    stream_size: int = 0
    stream_ttl: float = 0.0
    meta_ttl: float = 0.0
    remove_client_on_unsubscribe: bool = False
    client_key: str = ""
    allow_publish_for_client: bool = False
    allow_publish_for_subscriber: bool = False
    allow_publish_for_anonymous: bool = False
    allow_remove_for_client: bool = False
    allow_remove_for_subscriber: bool = False
    allow_remove_for_anonymous: bool = False
    publish_proxy_enabled: bool = False
    publish_proxy_name: str = "default"
    remove_proxy_enabled: bool = False
    remove_proxy_name: str = "default"
    default_page_size: int = 0
    min_page_size: int = 0
    max_page_size: int = 0
    live_transition_max_publication_limit: int = 0
    subscribe_catch_up_timeout: float = 0.0


class SharedPollOptions(_S):
    """Namespace ``shared_poll`` options (experimental shared polling, CH-49)."""

    proxy_name: str = ""
    refresh_interval: float = 0.0
    refresh_batch_size: int = 0
    max_keys_per_connection: int = 0
    mode: str = ""
    channel_shutdown_delay: float = 0.0
    track_expired_extra_delay: float = 0.0
    publish_enabled: bool = False


class ChannelOptions(_S):
    """Options of one namespace or of channels without namespace (CH-20..CH-50, v6 names)."""

    presence: bool = False
    join_leave: bool = False
    force_push_join_leave: bool = False
    history_size: int = 0
    history_ttl: float = 0.0
    history_meta_ttl: float = 0.0  # 0 = inherit channel.history_meta_ttl
    force_positioning: bool = False
    allow_positioning: bool = False
    force_recovery: bool = False
    allow_recovery: bool = False
    force_recovery_mode: str = "stream"
    auto_cache_recover: bool = False
    allow_subscribe_for_client: bool = False
    allow_subscribe_for_anonymous: bool = False
    allow_publish_for_subscriber: bool = False
    allow_publish_for_client: bool = False
    allow_publish_for_anonymous: bool = False
    allow_presence_for_subscriber: bool = False
    allow_presence_for_client: bool = False
    allow_presence_for_anonymous: bool = False
    allow_history_for_subscriber: bool = False
    allow_history_for_client: bool = False
    allow_history_for_anonymous: bool = False
    allow_user_limited_channels: bool = False
    channel_regex: str = ""
    allowed_delta_types: list[str] = []
    delta_publish: bool = False
    publication_data_format: str = ""
    allow_tags_filter: bool = False
    subscribe_proxy_enabled: bool = False
    subscribe_proxy_name: str = ""
    publish_proxy_enabled: bool = False
    publish_proxy_name: str = ""
    sub_refresh_proxy_enabled: bool = False
    sub_refresh_proxy_name: str = ""
    subscribe_stream_proxy_enabled: bool = False
    subscribe_stream_proxy_name: str = ""
    subscribe_stream_proxy_bidirectional: bool = False
    subscription_type: str = "stream"
    map_clients_presence_channel_prefix: str = ""
    map_users_presence_channel_prefix: str = ""
    map: MapOptions = msgspec.field(default_factory=lambda: MapOptions())
    shared_poll: SharedPollOptions = msgspec.field(default_factory=lambda: SharedPollOptions())

    @property
    def history_enabled(self) -> bool:
        """History is on only when both size and TTL are set (CH-23, CH-60)."""
        return self.history_size > 0 and self.history_ttl > 0


class ChannelNamespace(ChannelOptions):
    """A named namespace (CH-04, CH-08)."""

    name: str = ""


class TLS(_S):
    """The unified TLS object (SV-01, PX-27, EN-03, EN-08); ``*_pem`` values are raw PEM,
    base64 PEM or a file path (``centripetal.tls``)."""

    enabled: bool = False
    cert_pem: str = ""
    key_pem: str = ""
    server_ca_pem: str = ""
    client_ca_pem: str = ""
    insecure_skip_verify: bool = False
    server_name: str = ""


DEFAULT_MAX_PROXY_RESPONSE_SIZE = 1048576  # bytes; http.max_response_size


class HTTPProxyOptions(_S):
    """Per-proxy HTTP options (PX-03, PX-27). ``max_response_size`` (bytes, 0 = no cap) is a
    centripetal addition: a larger answer fails the call like any backend fault."""

    tls: TLS = msgspec.field(default_factory=TLS)
    static_headers: dict[str, str] = {}
    status_to_code_transforms: list[dict[str, object]] = []
    max_response_size: int = DEFAULT_MAX_PROXY_RESPONSE_SIZE


class GRPCProxyOptions(_S):
    """Per-proxy GRPC options (PX-27)."""

    tls: TLS = msgspec.field(default_factory=TLS)
    credentials_key: str = ""
    credentials_value: str = ""
    compression: bool = False
    static_metadata: dict[str, str] = {}


class ProxyEndpoint(_S):
    """One proxy object (PX-27): used inline (client.proxy.connect, channel.proxy.*) and in
    the named ``proxies`` list."""

    enabled: bool = False  # only meaningful for client.proxy.connect / refresh
    endpoint: str = ""
    timeout: float = 1.0
    http_headers: list[str] = []
    emulated_headers: list[str] = []
    grpc_metadata: list[str] = []
    binary_encoding: bool = False
    include_connection_meta: bool = False
    http: HTTPProxyOptions = msgspec.field(default_factory=HTTPProxyOptions)
    grpc: GRPCProxyOptions = msgspec.field(default_factory=GRPCProxyOptions)


class NamedProxy(ProxyEndpoint):
    name: str = ""


class ChannelProxies(_S):
    subscribe: ProxyEndpoint = msgspec.field(default_factory=ProxyEndpoint)
    publish: ProxyEndpoint = msgspec.field(default_factory=ProxyEndpoint)
    sub_refresh: ProxyEndpoint = msgspec.field(default_factory=ProxyEndpoint)
    subscribe_stream: ProxyEndpoint = msgspec.field(default_factory=ProxyEndpoint)
    map_publish: ProxyEndpoint = msgspec.field(default_factory=ProxyEndpoint)
    map_remove: ProxyEndpoint = msgspec.field(default_factory=ProxyEndpoint)
    shared_poll_refresh: ProxyEndpoint = msgspec.field(default_factory=ProxyEndpoint)


class Channel(_S):
    """``channel`` section (CH-02..CH-10, SV-18)."""

    without_namespace: ChannelOptions = msgspec.field(default_factory=ChannelOptions)
    namespaces: list[ChannelNamespace] = []
    history_meta_ttl: float = 720 * 3600.0
    max_length: int = 255
    private_prefix: str = "$"
    namespace_boundary: str = ":"
    user_boundary: str = "#"
    user_separator: str = ","
    publication_data_format: str = ""
    proxy: ChannelProxies = msgspec.field(default_factory=ChannelProxies)


class TokenConfig(_S):
    """``client.token`` (AU-05, AU-06, AU-09)."""

    hmac_secret_key: str = ""
    hmac_previous_secret_key: str = ""
    hmac_previous_secret_key_valid_until: int = 0
    rsa_public_key: str = ""
    ecdsa_public_key: str = ""
    jwks_public_endpoint: str = ""
    audience: str = ""
    audience_regex: str = ""
    issuer: str = ""
    issuer_regex: str = ""
    user_id_claim: str = ""
    insecure_skip_jwks_endpoint_safety_check: bool = False


class SubscriptionTokenConfig(TokenConfig):
    """``client.subscription_token`` (AU-22)."""

    enabled: bool = False


class ClientProxies(_S):
    connect: ProxyEndpoint = msgspec.field(default_factory=ProxyEndpoint)
    refresh: ProxyEndpoint = msgspec.field(default_factory=ProxyEndpoint)


class PersonalChannel(_S):
    """``client.subscribe_to_user_personal_channel`` (SV-14)."""

    enabled: bool = False
    personal_channel_namespace: str = ""
    single_connection: bool = False


class DisconnectTo(_S):
    code: int = 0
    reason: str = ""


class ConnectCodeToDisconnectTransform(_S):
    code: int = 0
    to: DisconnectTo = msgspec.field(default_factory=DisconnectTo)


class ConnectCodeToUnidirectionalDisconnect(_S):
    """``client.connect_code_to_unidirectional_disconnect`` (PX-09)."""

    enabled: bool = False
    transforms: list[ConnectCodeToDisconnectTransform] = []


class HTTPResponseTo(_S):
    status_code: int = 0
    body: str = ""


class ConnectCodeToHTTPResponseTransform(_S):
    code: int = 0
    to: HTTPResponseTo = msgspec.field(default_factory=HTTPResponseTo)


class ConnectCodeToHTTPResponse(_S):
    """``uni_sse`` / ``uni_http_stream`` ``.connect_code_to_http_response`` (PX-09)."""

    enabled: bool = False
    transforms: list[ConnectCodeToHTTPResponseTransform] = []


class Client(_S):
    """``client`` section (SV-09, SV-11, AU-30..AU-32, TR-12, TR-13)."""

    connect_code_to_unidirectional_disconnect: ConnectCodeToUnidirectionalDisconnect = (
        msgspec.field(default_factory=ConnectCodeToUnidirectionalDisconnect)
    )

    token: TokenConfig = msgspec.field(default_factory=TokenConfig)
    subscription_token: SubscriptionTokenConfig = msgspec.field(
        default_factory=SubscriptionTokenConfig
    )
    allowed_origins: list[str] = []
    allow_anonymous_connect_without_token: bool = False
    disallow_anonymous_connection_tokens: bool = False
    insecure: bool = False
    insecure_skip_token_signature_verify: bool = False
    user_id_http_header: str = ""
    ping_interval: float = 25.0
    pong_timeout: float = 8.0
    expired_close_delay: float = 25.0
    expired_sub_close_delay: float = 25.0
    stale_close_delay: float = 10.0
    presence_update_interval: float = 27.0
    channel_position_check_delay: float = 40.0
    channel_position_max_time_lag: float = 0.0
    connect_include_server_time: bool = False
    channel_limit: int = 128
    queue_max_size: int = 1048576
    user_connection_limit: int = 0
    connection_limit: int = 0
    connection_rate_limit: int = 0
    concurrency: int = 0
    history_max_publication_limit: int = 300
    recovery_max_publication_limit: int = 300
    max_commands_per_frame: int = 1024  # centripetal's own key: over it 3501
    subscribe_to_user_personal_channel: PersonalChannel = msgspec.field(
        default_factory=PersonalChannel
    )
    proxy: ClientProxies = msgspec.field(default_factory=ClientProxies)


class RPCPing(_S):
    enabled: bool = False
    method: str = "ping"


class RPCNamespaceOptions(_S):
    proxy_enabled: bool = False
    proxy_name: str = ""


class RPCNamespace(RPCNamespaceOptions):
    name: str = ""


class RPC(_S):
    """``rpc`` section (CH-10, PX-26, SV-19)."""

    without_namespace: RPCNamespaceOptions = msgspec.field(default_factory=RPCNamespaceOptions)
    namespaces: list[RPCNamespace] = []
    namespace_boundary: str = ":"
    proxy: ProxyEndpoint = msgspec.field(default_factory=ProxyEndpoint)
    ping: RPCPing = msgspec.field(default_factory=RPCPing)


class Toggle(_S):
    """A section with only ``enabled`` (``http_server.http3``)."""

    enabled: bool = False


class TLSAutocert(_S):
    """``http_server.tls_autocert`` (SV-01, CFG-130..CFG-136)."""

    enabled: bool = False
    host_whitelist: list[str] = []
    cache_dir: str = ""
    email: str = ""
    server_name: str = ""
    http: bool = False
    http_addr: str = ":80"


class HTTPServer(_S):
    """``http_server`` section (SV-01)."""

    address: str = ""
    port: int = 8000
    internal_address: str = ""
    internal_port: int = 0
    tls: TLS = msgspec.field(default_factory=TLS)
    tls_external: bool = False
    internal_tls: TLS = msgspec.field(default_factory=TLS)
    tls_autocert: TLSAutocert = msgspec.field(default_factory=TLSAutocert)
    http3: Toggle = msgspec.field(default_factory=lambda: Toggle())
    h2c_external: bool = False
    # centripetal's own request budget (docs/security.md; Go's http.Server field names)
    max_header_bytes: int = 1048576  # request line and headers; over it: 431
    max_header_count: int = 100  # over it: 431; 0 = no count limit
    read_header_timeout: float = 10.0  # from accept / first byte to the end of the head
    read_timeout: float = 30.0  # the whole request, body included; over it: 408
    idle_timeout: float = 60.0  # a keep-alive connection waiting for its next request


class Log(_S):
    level: str = "info"
    file: str = ""


class WebSocket(_S):
    """``websocket`` section (TR-01, P-12)."""

    disabled: bool = False
    handler_prefix: str = "/connection/websocket"
    compression: bool = False
    compression_min_size: int = 0
    compression_level: int = 1
    read_buffer_size: int = 0
    write_buffer_size: int = 0
    use_write_buffer_pool: bool = False
    write_timeout: float = 1.0
    message_size_limit: int = 65536
    decompressed_message_size_limit: int = 0


class StreamTransport(_S):
    enabled: bool = False
    handler_prefix: str = ""
    max_request_body_size: int = 65536


class UniWebSocket(_S):
    """``uni_websocket`` section (CFG-158..CFG-168). The connect request is a WebSocket
    message, bounded by ``message_size_limit``: there is no request body to size."""

    enabled: bool = False
    handler_prefix: str = "/connection/uni_websocket"

    compression: bool = False
    compression_min_size: int = 0
    compression_level: int = 1
    read_buffer_size: int = 0
    write_buffer_size: int = 0
    use_write_buffer_pool: bool = False
    write_timeout: float = 1.0
    message_size_limit: int = 65536
    decompressed_message_size_limit: int = 0  # compressed client frames; 0: 10 x the above
    join_push_messages: bool = False  # newline-joined pushes in one frame (v6.0.3)
    disable_closing_handshake: bool = False  # close TCP without a close frame (v6.5.1)
    disable_disconnect_push: bool = False  # no disconnect push before closing (v6.5.1)


class GrpcAPI(_S):
    """``grpc_api`` section (API-31, CFG-045..CFG-052)."""

    enabled: bool = False
    address: str = ""
    port: int = 10000
    key: str = ""
    tls: TLS = msgspec.field(default_factory=TLS)
    reflection: bool = False
    max_receive_message_size: int = 0
    error_mode: str = ""


class UniGRPC(_S):
    """``uni_grpc`` section (CFG-144..CFG-151)."""

    enabled: bool = False
    address: str = ""
    port: int = 11000
    max_receive_message_size: int = 65536
    tls: TLS = msgspec.field(default_factory=TLS)


class Graphite(_S):
    """``graphite`` section (SV-08, CFG-039..CFG-044)."""

    enabled: bool = False
    host: str = "localhost"
    port: int = 2003
    prefix: str = "centrifugo"
    interval: float = 10.0
    tags: bool = False


class HttpAPI(_S):
    """``http_api`` section (API-04, API-06, API-09)."""

    disabled: bool = False
    handler_prefix: str = "/api"
    key: str = ""
    error_mode: str = ""
    external: bool = False
    insecure: bool = False
    max_request_body_size: int = 16777216  # centripetal's own key: over it 413


class Endpoint(_S):
    enabled: bool = False
    handler_prefix: str = ""


class Shutdown(_S):
    timeout: float = 30.0


class Node(_S):
    name: str = ""
    info_metrics_aggregate_interval: float = 60.0


class RedisReplicaClient(_S):
    """``engine.redis.replica_client`` (EN-03): serve presence reads from replicas."""

    enabled: bool = False


class RedisConnection(_S):
    """How to reach Redis (EN-03): the keys every Redis section shares."""

    address: list[str] = msgspec.field(default_factory=lambda: ["redis://127.0.0.1:6379"])
    prefix: str = "centrifugo"
    connect_timeout: float = 1.0
    io_timeout: float = 4.0
    db: int = 0
    user: str = ""
    password: str = ""
    client_name: str = ""
    force_resp2: bool = False
    tls: TLS = msgspec.field(default_factory=TLS)
    cluster_address: list[str] = []
    sentinel_address: list[str] = []
    sentinel_user: str = ""
    sentinel_password: str = ""
    sentinel_master_name: str = ""
    sentinel_client_name: str = ""
    sentinel_tls: TLS = msgspec.field(default_factory=TLS)
    replica_client: RedisReplicaClient = msgspec.field(default_factory=RedisReplicaClient)


class RedisEngine(RedisConnection):
    """``engine.redis`` (EN-03), also the layout of ``broker.redis`` and
    ``presence_manager.redis`` (EN-07)."""

    history_use_lists: bool = False
    presence_ttl: float = 60.0
    presence_hash_field_ttl: bool = False
    presence_user_mapping: bool = False


class Engine(_S):
    type: str = "memory"
    redis: RedisEngine = msgspec.field(default_factory=RedisEngine)


class NatsRawMode(_S):
    """``broker.nats.raw_mode`` (EN-08)."""

    enabled: bool = False
    channel_replacements: dict[str, str] = {}
    prefix: str = ""


class PostgresOutbox(_S):
    poll_interval: float = 0.1
    batch_size: int = 1000


class PostgresBroker(_S):
    """``broker.postgres`` / ``map_broker.postgres`` (EN-09, experimental in Centrifugo)."""

    dsn: str = ""
    tls: TLS = msgspec.field(default_factory=TLS)
    pool_size: int = 16
    num_shards: int = 8
    cleanup_interval: float = 60.0
    idempotent_result_ttl: float = 300.0
    binary_data: bool = False
    stream_retention: float = 86400.0
    use_notify: bool = False
    notify_dsn: str = ""
    table_prefix: str = "cf"
    skip_schema_init: bool = False
    outbox: PostgresOutbox = msgspec.field(default_factory=PostgresOutbox)
    partition_lookahead_days: int = 2
    partition_retention_days: int = 7


class MapBrokerPostgres(PostgresBroker):
    ttl_check_interval: float = 1.0


class MapBrokerRedis(RedisConnection):
    """``map_broker.redis`` (experimental map subscriptions)."""

    cleanup_interval: float = 1.0
    cleanup_batch_size: int = 100
    idempotent_result_ttl: float = 300.0
    skip_pub_sub: bool = False


class MapBroker(_S):
    type: str = "memory"
    redis: MapBrokerRedis = msgspec.field(default_factory=MapBrokerRedis)
    postgres: MapBrokerPostgres = msgspec.field(default_factory=MapBrokerPostgres)


class PostgresController(_S):
    dsn: str = ""
    tls: TLS = msgspec.field(default_factory=TLS)
    pool_size: int = 8
    num_shards: int = 1
    table_prefix: str = "cf"
    poll_interval: float = 0.05
    use_notify: bool = False
    notify_dsn: str = ""
    partition_retention_days: int = 1
    partition_lookahead_days: int = 2
    partition_cleanup_interval: float = 60.0
    batch_size: int = 1000
    skip_schema_init: bool = False


class Controller(_S):
    """``controller`` (EN-09: node control over PostgreSQL instead of the broker)."""

    enabled: bool = False
    type: str = ""
    postgres: PostgresController = msgspec.field(default_factory=PostgresController)


class SharedPoll(_S):
    """Top-level ``shared_poll`` (experimental shared polling)."""

    hmac_secret_key: str = ""
    hmac_previous_secret_key: str = ""
    hmac_previous_secret_key_valid_until: int = 0
    concurrency_limit: int = 0


class Consumer(_S):
    """One ``consumers`` item (SV-17). Each backend section is kept as given."""

    name: str = ""
    enabled: bool = False
    type: str = ""
    postgresql: dict[str, object] = {}
    kafka: dict[str, object] = {}
    nats_jetstream: dict[str, object] = {}
    redis_stream: dict[str, object] = {}
    google_pub_sub: dict[str, object] = {}
    aws_sqs: dict[str, object] = {}
    azure_service_bus: dict[str, object] = {}


class WebTransport(_S):
    enabled: bool = False
    handler_prefix: str = "/connection/webtransport"
    message_size_limit: int = 65536


class OpenTelemetry(_S):
    enabled: bool = False
    api: bool = False
    consuming: bool = False
    google_cloud_adc_auth: bool = False


class UsageStats(_S):
    disabled: bool = False


class NatsBroker(_S):
    url: str = "nats://localhost:4222"
    prefix: str = "centrifugo"
    dial_timeout: float = 1.0
    write_timeout: float = 1.0
    tls: TLS = msgspec.field(default_factory=TLS)
    allow_wildcards: bool = False
    raw_mode: NatsRawMode = msgspec.field(default_factory=NatsRawMode)


class Broker(_S):
    enabled: bool = False
    type: str = ""
    redis: RedisEngine = msgspec.field(default_factory=RedisEngine)
    nats: NatsBroker = msgspec.field(default_factory=NatsBroker)
    postgres: PostgresBroker = msgspec.field(default_factory=PostgresBroker)


class PresenceManagerSection(_S):
    enabled: bool = False
    type: str = ""
    redis: RedisEngine = msgspec.field(default_factory=RedisEngine)


class HTTPStream(StreamTransport):
    handler_prefix: str = "/connection/http_stream"


class SSE(StreamTransport):
    handler_prefix: str = "/connection/sse"


class UniSSE(StreamTransport):
    handler_prefix: str = "/connection/uni_sse"
    connect_code_to_http_response: ConnectCodeToHTTPResponse = msgspec.field(
        default_factory=ConnectCodeToHTTPResponse
    )


class UniHTTPStream(StreamTransport):
    handler_prefix: str = "/connection/uni_http_stream"
    connect_code_to_http_response: ConnectCodeToHTTPResponse = msgspec.field(
        default_factory=ConnectCodeToHTTPResponse
    )


class Init(Endpoint):
    handler_prefix: str = "/connection/init"


class Health(Endpoint):
    handler_prefix: str = "/health"


class Prometheus(Endpoint):
    handler_prefix: str = "/metrics"
    instrument_http_handlers: bool = False
    recovered_publications_histogram: bool = False
    native_histograms: bool = False


class Debug(Endpoint):
    handler_prefix: str = "/debug/pprof"


class Swagger(Endpoint):
    handler_prefix: str = "/swagger"


class Emulation(_S):
    handler_prefix: str = "/emulation"
    max_request_body_size: int = 65536


class Config(_S):
    """The whole configuration (v6 layout)."""

    http_server: HTTPServer = msgspec.field(default_factory=HTTPServer)
    log: Log = msgspec.field(default_factory=Log)
    engine: Engine = msgspec.field(default_factory=Engine)
    broker: Broker = msgspec.field(default_factory=Broker)
    presence_manager: PresenceManagerSection = msgspec.field(default_factory=PresenceManagerSection)
    map_broker: MapBroker = msgspec.field(default_factory=MapBroker)
    controller: Controller = msgspec.field(default_factory=Controller)
    shared_poll: SharedPoll = msgspec.field(default_factory=SharedPoll)
    consumers: list[Consumer] = []
    webtransport: WebTransport = msgspec.field(default_factory=WebTransport)
    opentelemetry: OpenTelemetry = msgspec.field(default_factory=OpenTelemetry)
    usage_stats: UsageStats = msgspec.field(default_factory=UsageStats)
    enable_unreleased_features: bool = False
    client: Client = msgspec.field(default_factory=Client)
    channel: Channel = msgspec.field(default_factory=Channel)
    rpc: RPC = msgspec.field(default_factory=RPC)
    proxies: list[NamedProxy] = []
    http_api: HttpAPI = msgspec.field(default_factory=HttpAPI)
    websocket: WebSocket = msgspec.field(default_factory=WebSocket)
    http_stream: HTTPStream = msgspec.field(default_factory=HTTPStream)
    sse: SSE = msgspec.field(default_factory=SSE)
    emulation: Emulation = msgspec.field(default_factory=Emulation)
    uni_websocket: UniWebSocket = msgspec.field(default_factory=UniWebSocket)
    uni_sse: UniSSE = msgspec.field(default_factory=UniSSE)
    uni_http_stream: UniHTTPStream = msgspec.field(default_factory=UniHTTPStream)
    init: Init = msgspec.field(default_factory=Init)
    health: Health = msgspec.field(default_factory=Health)
    prometheus: Prometheus = msgspec.field(default_factory=Prometheus)
    admin: dict[str, object] = {}
    debug: Debug = msgspec.field(default_factory=Debug)
    swagger: Swagger = msgspec.field(default_factory=Swagger)
    node: Node = msgspec.field(default_factory=Node)
    shutdown: Shutdown = msgspec.field(default_factory=Shutdown)
    pid_file: str = ""
    grpc_api: GrpcAPI = msgspec.field(default_factory=GrpcAPI)
    uni_grpc: UniGRPC = msgspec.field(default_factory=UniGRPC)
    graphite: Graphite = msgspec.field(default_factory=Graphite)
