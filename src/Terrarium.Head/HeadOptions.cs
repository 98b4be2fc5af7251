using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Head;

/// <summary>Settings of a head process (or of the head embedded in a driver).</summary>
public sealed class HeadOptions
{
    /// <summary>Where the head listens. Required.</summary>
    public IReadOnlyList<Endpoint> Endpoints { get; init; } = [];

    /// <summary>The cluster token every call must present. Required.</summary>
    public string Token { get; init; } = "";

    /// <summary>
    /// How TCP endpoints are served and other servers trusted: TLS with the head's certificate, or
    /// insecure. Default: <see cref="ClusterTls.UnixOnly"/>, which suits a head on Unix sockets only.
    /// </summary>
    public ClusterTls Tls { get; init; } = ClusterTls.UnixOnly;

    /// <summary>
    /// The cluster's own CA, which signs the certificates of nodes that join with the token. Default:
    /// null — nodes bring certificates of their own (an operator's PKI), or the cluster has no TLS.
    /// </summary>
    public ClusterCertificateAuthority? CertificateAuthority { get; init; }

    /// <summary>
    /// Start even when the Redis given accepts writes without a password: any local user could
    /// rewrite the head's state (its nodes, its actor directory). Default: false.
    /// </summary>
    public bool AllowInsecureRedis { get; init; }

    /// <summary>
    /// A node dead for this long is forgotten: it leaves the node list and the state in Redis (a node
    /// that comes back later registers again). Default: null, 30 × <see cref="NodeDeathTimeout"/>
    /// (5 minutes with the default timeout).
    /// </summary>
    public TimeSpan? DeadNodeRetention { get; init; }

    internal TimeSpan EffectiveDeadNodeRetention => DeadNodeRetention ?? NodeDeathTimeout * 30;

    /// <summary>How often nodes report in. Default: 1 second.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A node silent for this long is declared dead. Default: 10 seconds.</summary>
    public TimeSpan NodeDeathTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Where the package store keeps archives. Required.</summary>
    public string StorageDirectory { get; init; } = "";

    /// <summary>The largest package the store accepts. Default: 1 GiB.</summary>
    public long MaxPackageBytes { get; init; } = 1L << 30;

    /// <summary>
    /// Bytes the package store may hold before packages no job uses (see <see cref="PackageProtection"/>) are deleted, least
    /// recently used first. Default: 10 GB, as Ray's.
    /// </summary>
    public long PackageStoreLimit { get; init; } = DefaultPackageStoreLimit;

    /// <summary>The default of <see cref="PackageStoreLimit"/>.</summary>
    public const long DefaultPackageStoreLimit = 10_000_000_000;

    /// <summary>
    /// How long after its last use (an upload, a driver asking for it, a node downloading it) a
    /// package is kept even when no job uses it (a job uses it while it runs, or while its detached actors live): a job that uploads and then submits does
    /// not lose it. Default: 10 minutes, as Ray's.
    /// </summary>
    public TimeSpan PackageProtection { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Redis to keep the head's state in (<c>redis://host:port</c>, or a StackExchange.Redis
    /// configuration string): a head started again with the same Redis and
    /// <see cref="StorageDirectory"/> finds its nodes, jobs and named actors, and its packages.
    /// Default: null, state in memory only.
    /// </summary>
    public string? Redis { get; init; }

    /// <summary>The prefix of the head's Redis keys, so that clusters can share one Redis. Default: <c>terrarium:</c>.</summary>
    public string RedisKeyPrefix { get; init; } = "terrarium:";

    /// <summary>
    /// The bytes of a submitted job's output the head keeps (the last ones; in Redis too when it has
    /// one). Default: 10 MiB.
    /// </summary>
    public long JobLogLimit { get; init; } = DefaultJobLogLimit;

    /// <summary>The default of <see cref="JobLogLimit"/>.</summary>
    public const long DefaultJobLogLimit = 10L << 20;

    /// <summary>
    /// Where the HTTP API (submitted jobs, shaped after Ray's; see docs/jobs.md) listens: plain HTTP
    /// on a loopback address, HTTPS with the head's certificate elsewhere; port 0 picks a free one.
    /// Every request needs the cluster token (<c>Authorization: Bearer</c>). Default: null, none.
    /// </summary>
    public Endpoint? HttpEndpoint { get; init; }

    /// <summary>The clock. Default: <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    internal ClusterCredentials Credentials => new(Token, Tls);

    internal void Validate()
    {
        if (Endpoints.Count == 0)
        {
            throw new ArgumentException($"{nameof(Endpoints)} must name at least one endpoint", nameof(Endpoints));
        }

        ArgumentException.ThrowIfNullOrEmpty(Token, nameof(Token));
        ArgumentException.ThrowIfNullOrEmpty(StorageDirectory, nameof(StorageDirectory));
        ArgumentNullException.ThrowIfNull(Tls, nameof(Tls));
        if (CertificateAuthority is not null && !Tls.IsTls)
        {
            throw new ArgumentException($"{nameof(CertificateAuthority)} signs TLS certificates: give {nameof(Tls)} a TLS setting too", nameof(CertificateAuthority));
        }

        if (PackageStoreLimit < 0 || PackageProtection < TimeSpan.Zero)
        {
            throw new ArgumentException($"{nameof(PackageStoreLimit)} ({PackageStoreLimit}) and {nameof(PackageProtection)} ({PackageProtection}) must not be negative",
                PackageStoreLimit < 0 ? nameof(PackageStoreLimit) : nameof(PackageProtection));
        }

        if (HttpEndpoint is { } http && (http.SocketPath is not null || (!http.IsLoopback && Tls.ServerCertificate is null && !Tls.IsInsecure)))
        {
            throw new ArgumentException(http.SocketPath is not null
                ? $"{nameof(HttpEndpoint)} must be a TCP address, not {http}"
                : $"the HTTP API would listen on {http} without TLS, and the token would cross the network in clear: give the head a TLS certificate, listen on a loopback address, or run insecure (--insecure)",
                nameof(HttpEndpoint));
        }

        if (JobLogLimit is < 1024 or > int.MaxValue)
        {
            throw new ArgumentException($"{nameof(JobLogLimit)} ({JobLogLimit}) must be between 1 KiB and 2 GiB", nameof(JobLogLimit));
        }

        if (DeadNodeRetention is { } retention && retention <= NodeDeathTimeout)
        {
            throw new ArgumentException($"{nameof(DeadNodeRetention)} ({DeadNodeRetention}) must exceed {nameof(NodeDeathTimeout)} ({NodeDeathTimeout})", nameof(DeadNodeRetention));
        }

        if (HeartbeatInterval <= TimeSpan.Zero || NodeDeathTimeout <= HeartbeatInterval)
        {
            throw new ArgumentException(
                $"{nameof(NodeDeathTimeout)} ({NodeDeathTimeout}) must exceed {nameof(HeartbeatInterval)} ({HeartbeatInterval}), which must be positive");
        }
    }
}
