using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Terrarium.Head.Jobs;
using Terrarium.Protocol.Transport;
using Endpoint = Terrarium.Protocol.Transport.Endpoint;

namespace Terrarium.Head.Http;

/// <summary>
/// The head's HTTP API (jobs, shaped after Ray's job submission API) and its OpenAPI document at
/// <c>/openapi/v1.json</c>, on a listener of its own (HTTP/1.1 and 2). Every request needs the
/// cluster token as <c>Authorization: Bearer TOKEN</c>; without it, 401. On a loopback address it
/// is plain HTTP; elsewhere HTTPS with the head's certificate.
/// </summary>
internal sealed class HeadHttpServer(WebApplication app, Endpoint endpoint) : IAsyncDisposable
{
    private const string Refusal = "missing or wrong cluster token: send 'Authorization: Bearer TOKEN' with the cluster's token (TERRARIUM_TOKEN; terrarium start printed where it is kept)";

    /// <summary>Where it listens, its port resolved.</summary>
    public Endpoint Endpoint { get; } = endpoint;

    public static async Task<HeadHttpServer> StartAsync(HeadOptions options, JobSubmissions submissions, ILoggerFactory loggerFactory, CancellationToken ct)
    {
        var endpoint = options.HttpEndpoint!;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IHostLifetime, EmbeddedHostLifetime>();
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton(submissions);
        AddApi(builder.Services);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            var address = endpoint.Host is "localhost" ? IPAddress.Loopback : IPAddress.Parse(endpoint.Host!);
            // A job's submission is a few KiB; the API takes nothing larger than this.
            kestrel.Limits.MaxRequestBodySize = 2 << 20;
            kestrel.Listen(address, endpoint.Port, listen =>
            {
                // HTTP/2 needs TLS's protocol negotiation: plain HTTP is HTTP/1.1 alone.
                listen.Protocols = HttpProtocols.Http1;
                if (!endpoint.IsLoopback && options.Tls.ServerCertificate is { } certificate)
                {
                    listen.Protocols = HttpProtocols.Http1AndHttp2;
                    listen.UseHttps(certificate);
                }
            });
        });

        var app = builder.Build();
        app.Use((context, next) => HasToken(context.Request, options.Token) ? next(context) : RefuseAsync(context));
        MapApi(app);
        try
        {
            await app.StartAsync(ct).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new IOException($"the head's HTTP API cannot listen on {endpoint}: {e.Message} (pick another port with --dashboard-port, 0 for any free one)", e);
        }

        var port = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Select(a => new Uri(a).Port).First();
        return new HeadHttpServer(app, endpoint.WithPort(port));
    }

    /// <summary>The API's services: its JSON in snake case, and its OpenAPI document (also built into docs/ by src/Terrarium.Head.OpenApi).</summary>
    internal static void AddApi(IServiceCollection services)
    {
        services.AddOpenApi(openApi => openApi.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Terrarium head HTTP API";
            document.Info.Description = "Submitted jobs, shaped after Ray's job submission API. Every request needs the cluster token: Authorization: Bearer TOKEN.";
            return Task.CompletedTask;
        }));
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);
    }

    /// <summary>The API's endpoints, and its OpenAPI document at <c>/openapi/v1.json</c>.</summary>
    internal static void MapApi(WebApplication app)
    {
        app.MapOpenApi("/openapi/{documentName}.json");
        JobsApi.Map(app);
    }

    public async ValueTask DisposeAsync()
    {
        // Followers of a job's output (logs/tail) are cut after a moment, not waited for.
        using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await app.StopAsync(stopping.Token).ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
    }

    private static bool HasToken(HttpRequest request, string token) =>
        request.Headers.Authorization.ToString() is var header && header.StartsWith("Bearer ", StringComparison.Ordinal) && ClusterToken.Matches(header["Bearer ".Length..], token);

    private static Task RefuseAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return context.Response.WriteAsJsonAsync(new Dictionary<string, string> { ["error"] = Refusal });
    }
}
