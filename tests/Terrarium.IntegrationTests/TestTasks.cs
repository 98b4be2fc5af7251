using System.Diagnostics;
using System.Security.Cryptography;

namespace Terrarium.IntegrationTests;

/// <summary>The remote functions the integration tests run in worker processes.</summary>
public static class TestTasks
{
    public static int Square(int x) => x * x;

    public static int Add(int a, int b) => a + b;

    public static async Task<string> ConcatAsync(string a, string b)
    {
        await Task.Yield();
        return a + b;
    }

    public static int Pid() => Environment.ProcessId;

    public static T Echo<T>(T value) => value;

    /// <summary><paramref name="mebibytes"/> MiB of a pattern <see cref="IsPattern"/> recognises.</summary>
    public static ReadOnlyMemory<byte> Pattern(int mebibytes)
    {
        var bytes = new byte[mebibytes << 20];
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)(i * 31 % 251);
        }

        return bytes;
    }

    public static bool IsPattern(ReadOnlySpan<byte> bytes, int mebibytes)
    {
        if (bytes.Length != mebibytes << 20)
        {
            return false;
        }

        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] != (byte)(i * 31 % 251))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether a large argument reached the task whole.</summary>
    public static bool CheckPattern(ReadOnlyMemory<byte> bytes, int mebibytes) => IsPattern(bytes.Span, mebibytes);

    /// <summary>How a large argument reached the task: the store file it is a mapping of, or "copied".</summary>
    public static string HowArgumentArrived(ReadOnlyMemory<byte> bytes, int mebibytes) =>
        !IsPattern(bytes.Span, mebibytes) ? "damaged"
            : System.Runtime.InteropServices.MemoryMarshal.TryGetMemoryManager<byte, Protocol.SharedMemory.MappedValue>(bytes, out var mapped) ? mapped.Path
            : "copied";

    public static Point Move(Point p, int dx) => p with { X = p.X + dx };

    public static string? GetEnv(string name) => Environment.GetEnvironmentVariable(name);

    public static int Throw(string message) => throw new InvalidOperationException(message);

    public static int Exit(int code)
    {
        Environment.Exit(code);
        return 0;
    }

    /// <summary>Crashes the worker the first time (leaving a marker), succeeds after.</summary>
    public static int CrashOnce(string marker)
    {
        if (!File.Exists(marker))
        {
            File.WriteAllText(marker, "crashed");
            Environment.Exit(7);
        }

        return 42;
    }

    /// <summary>Throws the first time (leaving a marker), succeeds after.</summary>
    public static int ThrowOnce(string marker)
    {
        if (!File.Exists(marker))
        {
            File.WriteAllText(marker, "threw");
            throw new IOException("transient");
        }

        return 43;
    }

    /// <summary>Returns once <paramref name="gate"/> exists: lets a test decide when a task finishes.</summary>
    public static int WaitForFile(string gate, int result)
    {
        var watch = Stopwatch.StartNew();
        while (!File.Exists(gate))
        {
            if (watch.Elapsed > TimeSpan.FromMinutes(2))
            {
                throw new TimeoutException($"gate {gate} never appeared");
            }

            Thread.Sleep(10);
        }

        return result;
    }

    /// <summary>Keeps a CPU busy for a while and reports the worker's pid.</summary>
    public static int BusyPid(int milliseconds)
    {
        var watch = Stopwatch.StartNew();
        while (watch.ElapsedMilliseconds < milliseconds)
        {
            Thread.SpinWait(1000);
        }

        return Environment.ProcessId;
    }

    public static Stream OpenStream() => new MemoryStream([1, 2, 3]);

    /// <summary>Pid, the variable as .NET and as the C library see it, and a file read by relative path.</summary>
    public static string EnvironmentReport(string variable, string file) =>
        $"{Environment.ProcessId}|{Environment.GetEnvironmentVariable(variable)}|{System.Runtime.InteropServices.Marshal.PtrToStringUTF8(NativeGetEnv(variable))}|{File.ReadAllText(file)}";

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "getenv")]
    private static extern IntPtr NativeGetEnv([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string name);

    public static string ContextSummary()
    {
        var context = RuntimeContext.Current;
        return $"{context.JobId}|{context.WorkerId}|{context.TaskId}|{context.IsWorker}|{context.RuntimeEnv?.ToJson()}";
    }

    public static async Task<string?> ChildGetEnv(string name) => await Cluster.Current.Submit(() => GetEnv(name));

    public static async Task<string?> ChildGetEnvWithOwn(string name, string childValue) =>
        await Cluster.Current.Submit(() => GetEnv(name), new TaskOptions
        {
            RuntimeEnv = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["CHILD_ONLY"] = childValue } },
        });

    /// <summary>Fans out children and waits for them, holding its own CPU: would deadlock a 2-CPU node without CPU lending.</summary>
    public static async Task<int> FanOut(int children)
    {
        var refs = Enumerable.Range(1, children).Select(i => Cluster.Current.Submit(() => BusyPid(50))).ToList();
        var pids = await Cluster.Current.GetAsync(refs);
        return pids.Length;
    }

    public static async Task<int> NestedDepth(int depth) =>
        depth == 0 ? 0 : 1 + await Cluster.Current.Submit(() => NestedDepth(depth - 1));
}

public sealed record Point(int X, int Y);

public sealed class Counter(int start)
{
    private int _value = start;

    public int Value => _value;

    public int Increment(int by) => _value += by;

    public int IncrementBoth(int first, int second) => _value += first + second;

    public async Task<int> IncrementLaterAsync(int by)
    {
        await Task.Delay(1);
        return _value += by;
    }

    public int Fail(string message) => throw new ArgumentException(message);

    public int Pid() => Environment.ProcessId;

    public long ChecksumOf(byte[] data) => MultiNodeTasks.Checksum(data);

    public int Crash()
    {
        Environment.Exit(9);
        return 0;
    }

    public string? GetEnv(string name) => Environment.GetEnvironmentVariable(name);
}

public static class HandleTasks
{
    public static async Task<int> IncrementVia(ActorHandle<Counter> counter, int by) => await counter.Call(c => c.Increment(by));

    public static ActorHandle<Counter> CreateCounter(int start) => Cluster.Current.CreateActor(() => new Counter(start));
}

/// <summary>An actor that calls another actor it was handed.</summary>
public sealed class Forwarder
{
    public async Task<int> Forward(ActorHandle<Counter> target, int by) => await target.Call(c => c.Increment(by));
}

public sealed class FailingActor
{
    public FailingActor(string reason) => throw new InvalidOperationException(reason);

    public int Never() => 0;
}

public static class FileTasks
{
    public static string Read(string relativePath) => File.ReadAllText(relativePath);

    public static string Sha256(string relativePath) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(relativePath)));

    public static string CurrentDirectory() => Environment.CurrentDirectory;

    public static string? WorkingDirUri() => RuntimeContext.Current.RuntimeEnv?.WorkingDir;

    /// <summary>Calls a static method of an assembly the test project does not reference.</summary>
    public static string CallModule(string assemblyName, string typeName, string method) =>
        (string)System.Reflection.Assembly.Load(assemblyName).GetType(typeName, throwOnError: true)!.GetMethod(method)!.Invoke(null, null)!;

    /// <summary>Submits a child whose working_dir is a path relative to this worker's own working dir.</summary>
    public static async Task<string> ChildReadsFromSubdirectory(string subdirectory, string file) =>
        await Cluster.Current.Submit(() => Read(file), new TaskOptions { RuntimeEnv = new RuntimeEnv { WorkingDir = subdirectory } });
}

public sealed class FileReader
{
    public string Read(string relativePath) => File.ReadAllText(relativePath);
}

public static class NuGetTasks
{
    public static string DepLibVersion() => DepLib.Info.Describe();

    public static string ConsumerDescribe() => (string)System.Reflection.Assembly.Load("DepLib.Consumer")
        .GetType("DepLib.Consumer.Use", throwOnError: true)!.GetMethod("Describe")!.Invoke(null, null)!;

    public static string NativeZlibVersion() => (string)System.Reflection.Assembly.Load("Native.Version")
        .GetType("NativeVersion.Zlib", throwOnError: true)!.GetMethod("Version")!.Invoke(null, null)!;

    public static string[] RestoredPackages() => RuntimeContext.Current.NuGetPackages.Select(p => $"{p.Id}@{p.Version}").ToArray();

    public static string Combined(string variable, string file) =>
        $"{DepLib.Info.Describe()}|{Environment.GetEnvironmentVariable(variable)}|{File.ReadAllText(file)}";
}

public sealed class VersionedActor
{
    public string Version() => DepLib.Info.Describe();

    public int Pid() => Environment.ProcessId;
}

/// <summary>Tasks that probe what a worker process can see of its own process and of the cluster.</summary>
public static class ProcessTasks
{
    /// <summary>Everything the process's environment exposes: its environ as the kernel keeps it, and as .NET sees it now.</summary>
    public static string EnvironmentAsVisible() =>
        File.ReadAllText("/proc/self/environ").Replace('\0', '\n') + "\n" +
        string.Join("\n", Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>().Select(e => $"{e.Key}={e.Value}"));

    /// <summary>How many inotify instances this process holds.</summary>
    public static int InotifyInstances() =>
        Directory.EnumerateFileSystemEntries("/proc/self/fd").Count(fd => new FileInfo(fd).LinkTarget == "anon_inode:inotify");

    /// <summary>The memory the GC may use: its hard heap limit when the runtime read one at start.</summary>
    public static long GcAvailableMemory() => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    public static int Count(Node node) => node.Next is null ? 1 : 1 + Count(node.Next);

    public static Node SelfReferencing()
    {
        var node = new Node();
        node.Next = node;
        return node;
    }

    public static int Length(byte[] a, byte[] b, byte[] c) => a.Length + b.Length + c.Length;
}

/// <summary>A linked list node: a value that can refer to itself.</summary>
public sealed class Node
{
    public Node? Next { get; set; }
}

/// <summary>An actor that reports on its own process.</summary>
public sealed class ProcessProbe
{
    public int InotifyInstances() => ProcessTasks.InotifyInstances();

    public int Pid() => Environment.ProcessId;

    /// <summary>
    /// How many of this process's sockets are connections accepted on an actor's Unix socket
    /// (<c>…/actor.sock</c>, state connected in /proc/net/unix): callers that came on it, not TCP.
    /// </summary>
    public int CallersOnUnixSocket()
    {
        var mine = Directory.GetFiles("/proc/self/fd")
            .Select(fd => new FileInfo(fd).LinkTarget)
            .Where(target => target is not null && target.StartsWith("socket:[", StringComparison.Ordinal))
            .Select(target => target![8..^1])
            .ToHashSet(StringComparer.Ordinal);
        // Num RefCount Protocol Flags Type St Inode Path
        return File.ReadLines("/proc/net/unix").Skip(1)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Count(f => f.Length >= 8 && f[5] == "03" && mine.Contains(f[6]) && f[7].EndsWith("/actor.sock", StringComparison.Ordinal));
    }
}

/// <summary>Tasks that run until they are cancelled, leaving marks a test can watch.</summary>
public static class CancelTasks
{
    /// <summary>Marks its start (one line per start, with the pid), waits on its token, marks that it saw the cancellation.</summary>
    public static async Task<int> UntilCancelled(string marks, CancellationToken ct)
    {
        File.AppendAllText(marks, $"started {Environment.ProcessId}\n");
        try
        {
            await Task.Delay(Timeout.Infinite, ct);
        }
        catch (OperationCanceledException)
        {
            File.AppendAllText(marks, "cancelled\n");
            throw;
        }

        return 0;
    }

    /// <summary>Marks its start and then never ends, whatever its token says.</summary>
    public static int Forever(string marks, CancellationToken ct)
    {
        File.AppendAllText(marks, $"started {Environment.ProcessId}\n");
        while (true)
        {
            Thread.Sleep(50);
        }
    }

    /// <summary>Marks that it ran, with the value it was given.</summary>
    public static int MarkWith(string marks, int value)
    {
        File.AppendAllText(marks, $"ran with {value}\n");
        return value;
    }

    /// <summary>Marks that it ran.</summary>
    public static int Mark(string marks)
    {
        File.AppendAllText(marks, "ran\n");
        return 1;
    }
}

/// <summary>An actor with calls that wait for cancellation.</summary>
public sealed class Waiter
{
    private int _calls;

    public async Task<int> UntilCancelled(string marks, CancellationToken ct)
    {
        _calls++;
        return await CancelTasks.UntilCancelled(marks, ct);
    }

    public int Calls() => ++_calls;
}
