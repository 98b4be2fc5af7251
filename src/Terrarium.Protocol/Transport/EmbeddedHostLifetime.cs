using Microsoft.Extensions.Hosting;

namespace Terrarium.Protocol.Transport;

/// <summary>
/// The lifetime of a Terrarium server's host, which lives in a process it does not own: a user's
/// driver, a worker. The default console lifetime would take over Ctrl+C and SIGTERM — stopping the
/// embedded cluster while the user's program ran on, or an actor's server while its worker lived —
/// so this one leaves signals and process exit to the process; the owner disposes the server.
/// </summary>
public sealed class EmbeddedHostLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
