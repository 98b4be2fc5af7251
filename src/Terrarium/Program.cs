using Terrarium.Worker;

namespace Terrarium;

/// <summary>Terrarium.dll doubles as the worker host that nodes start: <c>dotnet Terrarium.dll worker</c>.</summary>
internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        if (args is ["worker"])
        {
            return await WorkerHost.RunAsync().ConfigureAwait(false);
        }

        await Console.Error.WriteLineAsync(
            "Terrarium.dll is a library and the worker host that Terrarium nodes start as 'dotnet Terrarium.dll worker'; " +
            "reference it from your application and call Cluster.InitAsync().").ConfigureAwait(false);
        return 2;
    }
}
