using System.Diagnostics;
using Terrarium.Node.Workers;

namespace Terrarium.Node.RuntimeEnvs;

/// <summary>Starts a worker's process some other way than directly, e.g. inside a container.</summary>
internal interface IWorkerLauncher
{
    /// <summary>
    /// The command that runs <paramref name="direct"/> (the worker as it would start on the node, with
    /// its environment and directory) inside whatever this launcher provides.
    /// </summary>
    ProcessStartInfo Wrap(ProcessStartInfo direct, WorkerProcess worker);

    /// <summary>
    /// Removes what may outlive the worker's process once it was killed or has exited (a container
    /// whose client process was killed keeps running otherwise). Never throws.
    /// </summary>
    Task RemoveAsync(WorkerProcess worker);
}
