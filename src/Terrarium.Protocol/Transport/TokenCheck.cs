using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Terrarium.Protocol.Transport;

/// <summary>
/// Refuses every request that does not present the cluster token, before any of its body is read:
/// an unauthenticated caller can make the server buffer nothing, and learns nothing but the refusal.
/// The one exception is the head's <c>GetClusterCa</c>, which hands out the public CA certificate to
/// clients that hold only its pin (see <see cref="Security.CaDiscovery"/>).
/// </summary>
internal static class TokenCheck
{
    private static readonly PathString PublicPath = $"/{Protocol.Head.Descriptor.FullName}/{nameof(Protocol.Head.HeadBase.GetClusterCa)}";
    private const string Refusal = "missing or wrong cluster token: pass the token of the cluster this address belongs to";

    public static void Use(WebApplication app, string token) => app.Use((context, next) =>
    {
        if (ClusterToken.Matches(context.Request.Headers[ClusterToken.HeaderName], token) || context.Request.Path == PublicPath)
        {
            return next(context);
        }

        // A gRPC "trailers-only" response: the status travels in the headers and no body follows.
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/grpc";
        context.Response.Headers["grpc-status"] = ((int)StatusCode.Unauthenticated).ToString(System.Globalization.CultureInfo.InvariantCulture);
        context.Response.Headers["grpc-message"] = Refusal;
        return Task.CompletedTask;
    });
}
