using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Terrarium.Protocol.LocalFiles;
using Terrarium.Protocol.Security;

namespace Terrarium.Protocol.Transport;

/// <summary>
/// A Kestrel host serving gRPC services over HTTP/2 on Unix sockets and/or TCP — TCP with TLS
/// unless the credentials say insecure — with the cluster token checked on every call before its
/// body is read, and connections that never become a working HTTP/2 connection cut after a while.
/// Head, node and actor workers each run one.
/// </summary>
public sealed class GrpcServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private GrpcServer(WebApplication app, IReadOnlyList<Endpoint> endpoints)
    {
        _app = app;
        Endpoints = endpoints;
    }

    /// <summary>The endpoints the server listens on, with ephemeral TCP ports resolved.</summary>
    public IReadOnlyList<Endpoint> Endpoints { get; }

    /// <summary>The service provider, to reach singletons registered by <c>configureServices</c>.</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>Builds and starts a server.</summary>
    /// <param name="endpoints">Where to listen; a TCP port of 0 picks a free one.</param>
    /// <param name="credentials">The token every call must present, and the certificate TCP endpoints serve with.</param>
    /// <param name="loggerFactory">Where the host's own logs go.</param>
    /// <param name="configureServices">Registers the service implementations and their dependencies.</param>
    /// <param name="mapServices">Maps the gRPC services.</param>
    /// <param name="limits">Connection limits and timeouts. Default: <see cref="ConnectionLimits"/>' defaults.</param>
    /// <param name="ct">Cancels the start.</param>
    /// <exception cref="ArgumentException">A TCP endpoint, and credentials with neither a certificate nor insecure.</exception>
    public static async Task<GrpcServer> StartAsync(
        IReadOnlyList<Endpoint> endpoints, ClusterCredentials credentials, ILoggerFactory loggerFactory,
        Action<IServiceCollection> configureServices, Action<WebApplication> mapServices, ConnectionLimits? limits = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        limits ??= new ConnectionLimits();
        if (endpoints.FirstOrDefault(e => e.SocketPath is null) is { } tcp && credentials.Tls.ServerCertificate is null && !credentials.Tls.IsInsecure)
        {
            throw new ArgumentException(
                $"listening on TCP ({tcp}) needs a TLS certificate, or an explicit insecure setting (--insecure): the token would cross the network in clear", nameof(credentials));
        }

        // No configuration file watching: one inotify instance per process would cap a user's
        // workers at the kernel's per-user limit (128 by default), and nothing here is reloaded.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IHostLifetime, EmbeddedHostLifetime>();
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddGrpc(options =>
        {
            options.MaxReceiveMessageSize = MessageLimits.MaxMessageBytes;
            options.MaxSendMessageSize = MessageLimits.MaxMessageBytes;
            // Only callers that presented the token get this far (see TokenCheck).
            options.EnableDetailedErrors = true;
        });
        configureServices(builder.Services);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.Http2.MaxStreamsPerConnection = 1000;
            kestrel.Limits.MaxRequestBodySize = null;
            limits.Apply(kestrel.Limits);
            foreach (var endpoint in endpoints)
            {
                if (endpoint.SocketPath is { } path)
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                    File.Delete(path);
                    kestrel.ListenUnixSocket(path, o => o.Protocols = HttpProtocols.Http2);
                }
                else
                {
                    var address = endpoint.Host is "localhost" ? IPAddress.Loopback : IPAddress.Parse(endpoint.Host!);
                    kestrel.Listen(address, endpoint.Port, o =>
                    {
                        o.Protocols = HttpProtocols.Http2;
                        o.Use(next => connection =>
                        {
                            if (connection.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionSocketFeature>()?.Socket is { } socket)
                            {
                                limits.ApplyTo(socket);
                            }

                            return next(connection);
                        });
                        if (credentials.Tls.ServerCertificate is { } certificate)
                        {
                            o.UseHttps(new HttpsConnectionAdapterOptions
                            {
                                ServerCertificate = certificate,
                                HandshakeTimeout = limits.HandshakeTimeout,
                            });
                        }
                    });
                }
            }
        });

        var app = builder.Build();
        TokenCheck.Use(app, credentials.Token);
        mapServices(app);
        await app.StartAsync(ct).ConfigureAwait(false);
        foreach (var endpoint in endpoints)
        {
            if (endpoint.SocketPath is { } path && !OperatingSystem.IsWindows())
            {
                // Its folder is private already; the socket is too, whatever the umask.
                File.SetUnixFileMode(path, PrivateDirectory.OwnerReadWrite);
            }
        }

        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Where(a => !a.Contains("unix:", StringComparison.Ordinal))
            .Select(a => new Uri(a).Port)
            .ToList();
        var resolved = new List<Endpoint>();
        var tcpIndex = 0;
        foreach (var endpoint in endpoints)
        {
            resolved.Add(endpoint.SocketPath is null && endpoint.Port == 0 && tcpIndex < bound.Count
                ? endpoint.WithPort(bound[tcpIndex++])
                : endpoint);
        }

        return new GrpcServer(app, resolved);
    }

    /// <summary>Stops listening and ends open calls.</summary>
    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _app.StopAsync(cts.Token).ConfigureAwait(false);
        }
        finally
        {
            await _app.DisposeAsync().ConfigureAwait(false);
            foreach (var endpoint in Endpoints)
            {
                if (endpoint.SocketPath is { } path)
                {
                    File.Delete(path);
                }
            }
        }
    }
}
