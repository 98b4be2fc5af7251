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

        if (args is ["probe"])
        {
            // A node checks that an image can run workers: the runtime starts, culture data (ICU)
            // loads, and so does OpenSSL, which every worker's TLS and hashing needs.
            ProcessEnvironment.RestoreLoaderPath();
            var culture = System.Globalization.CultureInfo.CurrentCulture;
            using var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
            var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData("probe"u8))[..8];
            Console.WriteLine($"Terrarium worker host on .NET {Environment.Version}, culture '{culture.Name}', compare {culture.CompareInfo.Compare("a", "B")}, " +
                $"OpenSSL {key.KeySize}-bit key, sha256 {hash}, LD_LIBRARY_PATH '{Environment.GetEnvironmentVariable("LD_LIBRARY_PATH")}'");
            return 0;
        }

        await Console.Error.WriteLineAsync(
            "Terrarium.dll is a library and the worker host that Terrarium nodes start as 'dotnet Terrarium.dll worker'; " +
            "reference it from your application and call Cluster.InitAsync().").ConfigureAwait(false);
        return 2;
    }
}
