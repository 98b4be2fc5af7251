using System.Diagnostics;

namespace Terrarium.IntegrationTests;

/// <summary>
/// A real image registry (Debian's <c>docker-registry</c>, the CNCF distribution) on a free loopback
/// port, storing in a folder of its own, ended with the test; and a <c>registries.conf</c> that lets
/// podman pull from it over plain HTTP, for the nodes given <see cref="RegistriesConf"/> through
/// <c>CONTAINERS_REGISTRIES_CONF</c>.
/// </summary>
public sealed class ImageRegistry : IDisposable
{
    private readonly Process _process;
    private readonly string _folder;

    private ImageRegistry(Process process, string folder, int port)
    {
        _process = process;
        _folder = folder;
        Address = $"127.0.0.1:{port}";
        RegistriesConf = Path.Combine(folder, "registries.conf");
    }

    /// <summary>host:port, the start of the references of the images pushed to it.</summary>
    public string Address { get; }

    public string RegistriesConf { get; }

    public static async Task<ImageRegistry> StartAsync()
    {
        Requirements.Tool("docker-registry", "images a node pulls are tested with a real registry (apt-get install docker-registry)");
        var folder = Directory.CreateTempSubdirectory("terrarium-registry-").FullName;
        var port = TestProcesses.FreePort();
        var config = Path.Combine(folder, "config.yml");
        await File.WriteAllTextAsync(config, $"""
            version: 0.1
            storage:
              filesystem:
                rootdirectory: {folder}/data
            http:
              addr: 127.0.0.1:{port}
            """);
        var process = Process.Start(new ProcessStartInfo("docker-registry", ["serve", config])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        var registry = new ImageRegistry(process, folder, port);
        await File.WriteAllTextAsync(registry.RegistriesConf, $"""
            [[registry]]
            location = "{registry.Address}"
            insecure = true
            """);
        await TestWaits.UntilAsync(() => TestProcesses.Accepts(port) || process.HasExited, "docker-registry listens");
        return process.HasExited ? throw new InvalidOperationException($"docker-registry exited with {process.ExitCode}") : registry;
    }

    /// <summary>Pushes a local image as <c>ADDRESS/name</c>: its reference in the registry.</summary>
    public async Task<string> PushAsync(string localImage, string name)
    {
        var reference = $"{Address}/{name}";
        await PodmanImages.RunAsync("podman", "push", "--quiet", "--tls-verify=false", localImage, reference);
        return reference;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}
