using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Tests.Protocol.Transport;

public sealed class GrpcServerTests
{
    [Fact]
    public async Task StartAsync_LeavesProcessSignalsToTheProcess()
    {
        // The embedded cluster's servers live in the user's driver: Ctrl+C and SIGTERM are the
        // driver's, not theirs (the console lifetime would swallow them and stop the cluster).
        var socket = Path.Combine(Path.GetTempPath(), $"g-{Guid.NewGuid():N}"[..14] + ".sock");
        await using var server = await GrpcServer.StartAsync([Endpoint.UnixSocket(socket)], ClusterCredentials.UnixOnly("token"), NullLoggerFactory.Instance, _ => { }, _ => { }, ct: CancellationToken.None);

        Assert.IsNotType<ConsoleLifetime>(server.Services.GetRequiredService<IHostLifetime>());
    }
}
