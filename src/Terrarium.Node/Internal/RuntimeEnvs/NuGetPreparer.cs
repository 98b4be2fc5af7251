using System.Text.Json;
using Terrarium.Node.Internal.NuGetEnvs;

namespace Terrarium.Node.Internal.RuntimeEnvs;

/// <summary><c>nuget</c>: a list of packages, or <c>{packages, sources}</c>, restored with NuGet's own restore.</summary>
internal sealed class NuGetPreparer(FetchedPackages packages, NuGetRestorer restorer) : IFieldPreparer
{
    public string Name => "nuget";

    public async Task<FieldSetup> PrepareAsync(JsonElement value, IWorkerLauncher? launcher, CancellationToken ct)
    {
        var list = value.ValueKind == JsonValueKind.Array ? value : Json.Property(value, "packages", Name);
        var packageSpecs = Json.Array(list, Name).EnumerateArray().Select(p => Json.String(p, Name)).ToList();
        var sources = new List<string>();
        if (value.ValueKind == JsonValueKind.Object && value.TryGetProperty("sources", out var declared))
        {
            foreach (var source in Json.Array(declared, Name + ".sources").EnumerateArray().Select(s => Json.String(s, Name + ".sources")))
            {
                // Local folder feeds arrive as pkg:// packages: unpack them first.
                var shipped = source.StartsWith("pkg://", StringComparison.Ordinal);
                var resolved = shipped ? await packages.DirectoryAsync(Name, source, ct).ConfigureAwait(false) : source;
                NuGetRestorer.CheckSource(resolved, shipped);
                sources.Add(resolved);
            }
        }

        return new FieldSetup { NuGet = await restorer.RestoreAsync(packageSpecs, sources, ct).ConfigureAwait(false) };
    }
}
