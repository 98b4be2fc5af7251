using System.Diagnostics;

namespace Terrarium.IntegrationTests;

/// <summary>
/// Images for container tests, built here with no registry: a Debian minbase root filesystem
/// (<c>mmdebstrap</c>, then <c>podman import</c>), plus this machine's .NET SDK — both cached by
/// podman between runs — and Terrarium's own image from <c>deploy/Containerfile</c>.
/// </summary>
public static class PodmanImages
{
    public const string Base = "localhost/terrarium-test-base:bookworm";
    private static readonly SemaphoreSlim s_gate = new(1, 1);

    /// <summary>Skips (or, under TERRARIUM_REQUIRE_ALL=1, fails) without root, podman and mmdebstrap.</summary>
    public static void Require()
    {
        Requirements.Root();
        Requirements.Tool("podman", "the cluster runs in containers (apt-get install podman runc)");
        Requirements.Tool("mmdebstrap", "the tests build their base image without a registry (apt-get install mmdebstrap)");
    }

    /// <summary>The Debian minbase image with the .NET SDK this test process runs on.</summary>
    public static Task<string> SdkAsync()
    {
        var dotnetRoot = Path.GetDirectoryName(Terrarium.Node.WorkerHostCommand.CurrentDotnet())!;
        var version = Directory.GetDirectories(Path.Combine(dotnetRoot, "shared", "Microsoft.NETCore.App")).Select(Path.GetFileName).Max()!;
        return DerivedAsync($"localhost/terrarium-test-sdk:{version}", """
            COPY dotnet/ /usr/share/dotnet/
            ENV PATH=/usr/share/dotnet:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin DOTNET_ROOT=/usr/share/dotnet
            """, context => RunAsync("cp", "-a", dotnetRoot, Path.Combine(context, "dotnet")));
    }

    /// <summary>Where <see cref="MarkedAsync"/> images carry their marker, which the host has not.</summary>
    public const string MarkerPath = "/terrarium-marker.txt";

    /// <summary>The base image plus a marker file holding the image's name; no .NET in it.</summary>
    public static Task<string> MarkedAsync() => DerivedAsync("localhost/terrarium-test-marked:1", "COPY marker.txt " + MarkerPath);

    /// <summary>The marked image without ICU, which .NET needs unless told to use invariant globalization.</summary>
    public static Task<string> WithoutIcuAsync() =>
        DerivedAsync("localhost/terrarium-test-no-icu:1", $"COPY marker.txt {MarkerPath}\nRUN rm -rf /usr/lib/x86_64-linux-gnu/libicu* /usr/lib/aarch64-linux-gnu/libicu* /usr/share/icu");

    /// <summary>
    /// The marked image as <c>mmdebstrap --variant=minbase</c> makes it: without OpenSSL (libssl3)
    /// and ICU, which the base image adds for .NET, and without what needs them.
    /// </summary>
    public static Task<string> MinimalAsync() => DerivedAsync("localhost/terrarium-test-minbase:1",
        $"COPY marker.txt {MarkerPath}\nRUN dpkg --purge --force-depends ca-certificates openssl libssl3 libicu72 && " +
        "! ls /usr/lib/x86_64-linux-gnu/libssl.so* /usr/lib/x86_64-linux-gnu/libicu* 2>/dev/null");

    /// <summary>The marked image with Debian's Python and venv (installed from Debian's mirror as the image is built).</summary>
    public static Task<string> WithPythonAsync() => DerivedAsync("localhost/terrarium-test-python:1",
        $"COPY marker.txt {MarkerPath}\nRUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-venv && rm -rf /var/lib/apt/lists/*");

    /// <summary>The Python image plus a conda-style environment at <see cref="CondaPrefix"/>: a Python, and a conda-meta folder.</summary>
    public static Task<string> WithCondaPrefixAsync() => DerivedAsync("localhost/terrarium-test-conda-prefix:1",
        $"COPY marker.txt {MarkerPath}\nRUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-venv && rm -rf /var/lib/apt/lists/* " +
        $"&& python3 -m venv --without-pip {CondaPrefix} && mkdir {CondaPrefix}/conda-meta");

    public const string CondaPrefix = "/opt/condaenv";

    /// <summary>An image of one file: no C library, so nothing of the node's can run in it.</summary>
    public static async Task<string> WithoutCLibraryAsync()
    {
        const string tag = "localhost/terrarium-test-no-libc:1";
        await s_gate.WaitAsync();
        try
        {
            if (!await ExistsAsync(tag))
            {
                var tar = Path.Combine(Path.GetTempPath(), $"terrarium-no-libc-{Guid.NewGuid():N}.tar");
                try
                {
                    await using (var stream = File.Create(tar))
                    await using (var writer = new System.Formats.Tar.TarWriter(stream))
                    {
                        var entry = new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, MarkerPath.TrimStart('/'))
                        {
                            DataStream = new MemoryStream("no libc"u8.ToArray()),
                        };
                        await writer.WriteEntryAsync(entry);
                    }

                    await RunAsync("podman", "import", tar, tag);
                }
                finally
                {
                    File.Delete(tar);
                }
            }

            return tag;
        }
        finally
        {
            s_gate.Release();
        }
    }

    /// <summary>
    /// An image built on <see cref="Base"/> from <paramref name="instructions"/>, once, then cached; its
    /// build context holds marker.txt (the tag) and what <paramref name="fill"/> puts there.
    /// </summary>
    private static async Task<string> DerivedAsync(string tag, string instructions, Func<string, Task>? fill = null)
    {
        await s_gate.WaitAsync();
        try
        {
            if (await ExistsAsync(tag))
            {
                return tag;
            }

            await BaseAsync();
            var context = Directory.CreateTempSubdirectory("terrarium-image-").FullName;
            try
            {
                await File.WriteAllTextAsync(Path.Combine(context, "marker.txt"), tag);
                await File.WriteAllTextAsync(Path.Combine(context, "Containerfile"), $"FROM {Base}\n{instructions}\n");
                if (fill is not null)
                {
                    await fill(context);
                }

                // The host's network: a RUN step may fetch packages from Debian's mirror.
                await RunAsync("podman", "build", "-q", "--network=host", "-t", tag, context);
                return tag;
            }
            finally
            {
                Directory.Delete(context, recursive: true);
            }
        }
        finally
        {
            s_gate.Release();
        }
    }

    /// <summary>deploy/Containerfile built on <paramref name="runtimeImage"/> with this build's Terrarium (the test folder holds it all).</summary>
    public static async Task<string> TerrariumAsync(string runtimeImage)
    {
        const string tag = "localhost/terrarium-cluster:test";
        var context = Directory.CreateTempSubdirectory("terrarium-image-").FullName;
        try
        {
            await RunAsync("cp", "-a", AppContext.BaseDirectory.TrimEnd('/'), Path.Combine(context, "publish"));
            File.Copy(Path.Combine(RepositoryRoot(), "deploy", "Containerfile"), Path.Combine(context, "Containerfile"));
            var previous = await ExistsAsync(tag) ? await RunAsync("podman", "image", "inspect", "--format", "{{.Id}}", tag) : null;
            var built = await RunAsync("podman", "build", "-q", "--build-arg", $"RUNTIME_IMAGE={runtimeImage}", "-t", tag, context);

            // Each build makes a new image (a new build of Terrarium); the one it untagged would stay, ~1 GB a run.
            if (previous is not null && previous != built)
            {
                await RemoveIfUnusedAsync(previous);
            }

            return tag;
        }
        finally
        {
            Directory.Delete(context, recursive: true);
        }
    }

    /// <summary>Runs a command to completion; its stdout, or an exception with its stderr.</summary>
    public static async Task<string> RunAsync(string command, params string[] arguments)
    {
        var start = new ProcessStartInfo(command, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(10));
        return process.ExitCode == 0
            ? (await stdout).Trim()
            : throw new InvalidOperationException($"{command} {string.Join(' ', arguments)} exited with {process.ExitCode}: {await stderr}");
    }

    private static async Task BaseAsync()
    {
        if (await ExistsAsync(Base))
        {
            return;
        }

        var rootfs = Path.Combine(Path.GetTempPath(), $"terrarium-rootfs-{Guid.NewGuid():N}.tar");
        try
        {
            // The libraries .NET needs beyond minbase: the C++ runtime, zlib, ICU and OpenSSL.
            await RunAsync("mmdebstrap", "--variant=minbase", "--include=libstdc++6,zlib1g,libicu72,libssl3,ca-certificates", "bookworm", rootfs);
            await RunAsync("podman", "import", rootfs, Base);
        }
        finally
        {
            File.Delete(rootfs);
        }
    }

    private static async Task RemoveIfUnusedAsync(string imageId)
    {
        // A container still using it keeps it (podman refuses); that is fine.
        using var process = Process.Start(new ProcessStartInfo("podman", ["rmi", imageId]) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true })!;
        await process.WaitForExitAsync();
    }

    private static async Task<bool> ExistsAsync(string image)
    {
        using var process = Process.Start(new ProcessStartInfo("podman", ["image", "exists", image]) { UseShellExecute = false })!;
        await process.WaitForExitAsync();
        return process.ExitCode == 0;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Terrarium.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("the tests do not run inside the repository: deploy/Containerfile not found");
    }
}
