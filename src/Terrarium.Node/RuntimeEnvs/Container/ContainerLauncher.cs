using System.Diagnostics;
using Terrarium.Node.Actors;
using Terrarium.Node.Objects;
using Terrarium.Node.Workers;
using Terrarium.Protocol.LocalFiles;
using Terrarium.Protocol.Transport;

namespace Terrarium.Node.RuntimeEnvs.Container;

/// <summary>
/// Starts workers inside one image: <c>podman run</c> on the host's network, with the node's .NET
/// runtime, the worker host, the job's code and the env's own folders of the node's cache mounted
/// read-only at the paths they have on the node, the node's (and an embedded head's) socket, the
/// folder of actors' sockets (<see cref="ActorSockets"/>) read-only, and folders of the worker's
/// own read-write: its directory, and its actor's socket folder. Nothing else of the node's is
/// visible: a job's code in the container can change neither the node's cache nor another worker's socket.
/// </summary>
internal sealed class ContainerLauncher(NodeOptions options, ContainerCommand runtime, string image, IReadOnlyList<string> runOptions) : IWorkerLauncher
{
    private const string WorkerLabel = "terrarium.worker";
    private static readonly string[] s_passedFromNode = ["TERRARIUM_NODE_ADDRESS", "TERRARIUM_WORKER_ID"];

    public string Image => image;

    /// <summary>The image's id (<c>podman image inspect</c>): the same tag rebuilt is another image.</summary>
    public string ImageId { get; set; } = "";

    /// <summary>The image's own <c>PATH</c>.</summary>
    public string ImagePath { get; set; } = "";

    /// <summary>The image's own <c>LD_LIBRARY_PATH</c>, if it sets one.</summary>
    public string? ImageLibraryPath { get; set; }

    /// <summary>The image has no ICU: its workers run with invariant globalization.</summary>
    public bool InvariantGlobalization { get; set; }

    /// <summary>
    /// The image has no usable OpenSSL: its workers get the node's (<see cref="NodeOpenSsl"/>),
    /// mounted in a folder of Terrarium's and on the worker's loader path only — the worker puts the
    /// path back as the image (or env) has it before any user code runs.
    /// </summary>
    public bool OpenSslFromNode { get; set; }

    /// <summary>
    /// The node's shared-memory store, mounted into its workers' containers at the same paths: its
    /// values read-only, the worker's own staging folder writable, so that workers map and write
    /// large values as they do outside a container. Null when the node has none.
    /// </summary>
    public SharedMemoryStore? Store { get; init; }

    /// <summary>The label every worker container of a node carries, to find them (<c>podman ps --filter label=...</c>).</summary>
    public static string NodeLabel(string nodeId) => $"terrarium.node={nodeId}";

    public ProcessStartInfo Wrap(ProcessStartInfo direct, WorkerProcess worker)
    {
        var variables = s_passedFromNode.ToDictionary(n => n, n => direct.Environment[n] ?? "", StringComparer.Ordinal);
        foreach (var (name, value) in worker.Env.EnvVars.Where(v => v.Value.Length <= PreparedEnv.MaxValuePassedAtStart))
        {
            variables[name] = value;
        }

        if (worker.Env.PathEntries.Count > 0)
        {
            variables["PATH"] = string.Join(':', worker.Env.PathEntries.Append(ImagePath));
        }

        if (OpenSslFromNode)
        {
            var seen = variables.GetValueOrDefault("LD_LIBRARY_PATH") ?? ImageLibraryPath;
            foreach (var (name, value) in LoaderPathFor(seen))
            {
                variables[name] = value;
            }
        }

        var own = PrivateFolder(worker);
        var start = runtime.StartInfo("run", "--rm", "--interactive", "--name", ContainerName(worker), "--label", NodeLabel(options.NodeId),
            "--label", $"{WorkerLabel}={worker.Id}", "--workdir", worker.Env.WorkingDirectory ?? own, "--env-file", WriteEnvFile(worker, variables));
        var writable = new List<string> { own };
        var readOnly = new List<string> { worker.JobCode.Directory, ActorSockets.Root(options) };
        readOnly.AddRange(EnvFolders(worker.Env));
        if (worker.ActorId is not null)
        {
            writable.Add(ActorSockets.FolderOf(options, worker.Id));
        }

        if (Store is { } store)
        {
            writable.Add(store.StagingFor(worker.Id));
            readOnly.Add(store.Sealed);
        }

        AddCommon(start, RealPath(options.WorkerHost!.DotnetPath), writable, readOnly,
            InvariantGlobalization && !variables.ContainsKey(ContainerPreparer.InvariantGlobalization), UnixSockets(), OpenSslFromNode);
        foreach (var argument in direct.ArgumentList)
        {
            start.ArgumentList.Add(argument);
        }

        // As the worker's own process: its input carries the token, its output is relayed.
        start.UseShellExecute = false;
        start.RedirectStandardInput = direct.RedirectStandardInput;
        start.RedirectStandardOutput = direct.RedirectStandardOutput;
        start.RedirectStandardError = direct.RedirectStandardError;
        // The token stays out of the container runtime's environment, as out of the worker's.
        start.Environment.Remove(ClusterToken.EnvironmentVariable);
        return start;
    }

    /// <summary>The worker's own folder, <c>workers/&lt;id&gt;</c> of the session: its directory when the env has no working dir.</summary>
    private string PrivateFolder(WorkerProcess worker) => PrivateDirectory.Create(Path.Combine(options.SessionDirectory, "workers", worker.Id));

    public async Task RemoveAsync(WorkerProcess worker)
    {
        File.Delete(EnvFilePath(worker));
        try
        {
            Directory.Delete(Path.Combine(options.SessionDirectory, "workers", worker.Id), recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Gone already, or still held: the session folder goes with the node.
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            // A container whose podman client was killed keeps running: remove it by name.
            await runtime.RunAsync(timeout.Token, "rm", "--force", "--ignore", "--time", "0", ContainerName(worker)).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The runtime hangs; the node's stop reports what is left (podman ps --filter label=...).
        }
    }

    /// <summary>
    /// Removes every container of this node that is still there, when the node stops: a worker
    /// killed while podman was still creating its container can leave one behind its removal by
    /// name. Never throws.
    /// </summary>
    public async Task RemoveLeftoversAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            var (_, listed, _) = await runtime.RunAsync(timeout.Token, "ps", "--all", "--quiet", "--filter", $"label={NodeLabel(options.NodeId)}").ConfigureAwait(false);
            var leftovers = listed.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (leftovers.Length > 0)
            {
                await runtime.RunAsync(timeout.Token, ["rm", "--force", "--ignore", "--time", "0", .. leftovers]).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // The runtime hangs: nothing more to do at a stop.
        }
    }

    /// <summary>How the worker's container is set apart from others with the same image: its run options.</summary>
    public string Identity => string.Join('\0', runOptions.Prepend(image));

    /// <summary>The worker host started in the image as <paramref name="name"/>, and asked only to prove that it runs.</summary>
    public ProcessStartInfo ProbeCommand(string name, bool invariantGlobalization, bool openSslFromNode)
    {
        var start = runtime.StartInfo("run", "--rm", "--name", name, "--label", NodeLabel(options.NodeId));
        if (openSslFromNode)
        {
            foreach (var (variable, value) in LoaderPathFor(ImageLibraryPath))
            {
                Add(start, "--env", $"{variable}={value}");
            }
        }

        AddCommon(start, RealPath(options.WorkerHost!.DotnetPath), [], [], invariantGlobalization, [], openSslFromNode);
        start.ArgumentList.Add(options.WorkerHost!.HostAssemblyPath);
        start.ArgumentList.Add("probe");
        return start;
    }

    /// <summary>
    /// Runs <paramref name="command"/> in the image, as the env's workers will run (a venv built with
    /// the image's Python), with only <paramref name="writable"/> of the node's folders, writable.
    /// </summary>
    public async Task<(int ExitCode, string Output, string Errors)> RunAsync(IReadOnlyList<string> command, IReadOnlyList<string> writable, CancellationToken ct)
    {
        var name = $"terrarium-build-{Guid.NewGuid():N}";
        var start = runtime.StartInfo("run", "--rm", "--name", name, "--label", NodeLabel(options.NodeId));
        AddCommon(start, command[0], writable, [], InvariantGlobalization, [], openSslFromNode: false);
        foreach (var argument in command.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }

        try
        {
            return await runtime.RunAsync(start, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Killing podman's client leaves its container running.
            using var removal = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await runtime.RunAsync(removal.Token, "rm", "--force", "--ignore", "--time", "0", name).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The network, mounts, entry point, run options and image, in that order, and nothing after the image.</summary>
    private void AddCommon(ProcessStartInfo start, string entryPoint, IEnumerable<string> writable, IEnumerable<string> readOnly, bool invariantGlobalization,
        IEnumerable<string> sockets, bool openSslFromNode)
    {
        var dotnet = RealPath(options.WorkerHost!.DotnetPath);
        var mounts = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var folder in readOnly.Prepend(Path.GetDirectoryName(options.WorkerHost.HostAssemblyPath)!).Prepend(Path.GetDirectoryName(dotnet)!))
        {
            mounts.TryAdd(Normalized(folder), false);
        }

        foreach (var folder in writable)
        {
            mounts[Normalized(folder)] = true;
        }

        Add(start, "--network=host", "--entrypoint", entryPoint);
        foreach (var (folder, isWritable) in mounts.Where(m => m.Key.Length > 0 && Directory.Exists(m.Key)).OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            Add(start, "--volume", $"{folder}:{folder}:{(isWritable ? "rw" : "ro")}");
        }

        // A socket file mounted on its own: the worker can connect to it, not replace it for others.
        foreach (var socket in sockets.Where(File.Exists))
        {
            Add(start, "--volume", $"{socket}:{socket}");
        }

        if (openSslFromNode)
        {
            foreach (var library in NodeOpenSsl.Files)
            {
                Add(start, "--volume", $"{RealPath(library)}:{NodeOpenSsl.MountFolder}/{NodeOpenSsl.Soname(library)}:ro");
            }
        }

        if (invariantGlobalization)
        {
            Add(start, "--env", $"{ContainerPreparer.InvariantGlobalization}=1");
        }

        Add(start, [.. runOptions, image]);
    }

    /// <summary>The loader path with the node's OpenSSL first, and what the worker puts back (<paramref name="seen"/>, or nothing).</summary>
    private static IEnumerable<(string Name, string Value)> LoaderPathFor(string? seen)
    {
        yield return ("LD_LIBRARY_PATH", seen is { Length: > 0 } ? $"{NodeOpenSsl.MountFolder}:{seen}" : NodeOpenSsl.MountFolder);
        yield return (NodeOpenSsl.RestoreVariable, seen is null ? "unset" : "set:" + seen);
    }

    private IEnumerable<string> UnixSockets() =>
        new[] { options.Head, options.WorkerEndpoint }.Select(e => e?.SocketPath).OfType<string>().Append(ObjectTransferServer.SocketPathOf(options)).Distinct();

    /// <summary>
    /// The folders of the node's cache that the env's workers read: its working dir, its modules,
    /// the folders its fields say workers read (the restored packages of a nuget env), and its venv (the folder above a
    /// <c>bin</c> on its PATH) — each mounted read-only. An env's folders in the image itself are not the node's.
    /// </summary>
    private IEnumerable<string> EnvFolders(PreparedEnv env)
    {
        var folders = new List<string>();
        if (env.WorkingDirectory is { } workingDirectory)
        {
            folders.Add(workingDirectory);
        }

        folders.AddRange(env.AssemblyDirectories);
        folders.AddRange(env.ReadFolders);

        folders.AddRange(env.PathEntries.Where(p => Path.GetFileName(p) == "bin").Select(p => Path.GetDirectoryName(p)!));
        var cache = Normalized(options.CacheDirectory) + Path.DirectorySeparatorChar;
        return folders.Select(Normalized).Where(f => f.StartsWith(cache, StringComparison.Ordinal)).Distinct(StringComparer.Ordinal);
    }

    /// <summary>
    /// The variables as a file only the node's user reads, not as arguments that every user of the
    /// machine sees; podman reads it when the container is created.
    /// </summary>
    private string WriteEnvFile(WorkerProcess worker, Dictionary<string, string> variables)
    {
        var path = EnvFilePath(worker);
        var fileOptions = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            fileOptions.UnixCreateMode = PrivateDirectory.OwnerReadWrite;
        }

        // No byte order mark: podman would take it for part of the first name.
        using var file = new StreamWriter(path, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false), fileOptions);
        // A value over several lines cannot be written here; the worker sets every variable itself
        // before user code runs, so only the runtime's own start-up reads miss it.
        foreach (var (name, value) in variables.Where(v => !v.Value.Contains('\n', StringComparison.Ordinal)))
        {
            file.Write($"{name}={value}\n");
        }

        return path;
    }

    private string EnvFilePath(WorkerProcess worker) => Path.Combine(options.SessionDirectory, $"{worker.Id}.env");

    private static string ContainerName(WorkerProcess worker) =>
        "terrarium-" + new string(worker.Id.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '-').ToArray());

    /// <summary>One spelling per folder: podman refuses two mounts on one destination.</summary>
    private static string Normalized(string folder) => folder.Length == 0 ? "" : Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));

    private static string RealPath(string path) => File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName ?? Path.GetFullPath(path);

    private static void Add(ProcessStartInfo start, params string[] arguments)
    {
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
    }
}
