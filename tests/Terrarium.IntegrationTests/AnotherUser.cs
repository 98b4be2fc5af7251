using System.Diagnostics;

namespace Terrarium.IntegrationTests;

/// <summary>
/// A process of another local user — <c>nobody</c>, uid 65534, started with <c>setpriv</c> — the
/// attacker of the security tests: it plants files, listens where a cluster's process might connect,
/// and reports what reached it.
/// </summary>
public sealed class AnotherUser : IDisposable
{
    public const int Uid = 65534;
    private readonly Process _process;

    private AnotherUser(Process process) => _process = process;

    /// <summary>What these tests need: root (to become another user), setpriv and python3.</summary>
    public static void Require()
    {
        Requirements.Root();
        Requirements.Tool("setpriv", "the attacker runs as another user (util-linux)");
        Requirements.That(File.Exists("/usr/bin/python3"), "the attacker's scripts run with /usr/bin/python3");
    }

    /// <summary>Starts <paramref name="script"/> as <c>nobody</c>; returns once it prints <c>ready</c>.</summary>
    public static async Task<AnotherUser> StartPythonAsync(string script, params string[] arguments)
    {
        var process = Process.Start(Command(["/usr/bin/python3", "-c", script, .. arguments]))!;
        var attacker = new AnotherUser(process);
        var ready = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
        if (ready != "ready")
        {
            attacker.Dispose();
            throw new InvalidOperationException($"the attacker's script did not start: {ready} {await process.StandardError.ReadToEndAsync()}");
        }

        return attacker;
    }

    /// <summary>
    /// Listens on loopback <paramref name="port"/> as <c>nobody</c>, where a cluster's process might
    /// connect: <see cref="OutputAsync"/> is every byte the first client sent (hex), or nothing when
    /// none came within <paramref name="acceptSeconds"/>.
    /// </summary>
    public static Task<AnotherUser> ListenAsync(int port, int acceptSeconds = 60) => StartPythonAsync(RecordingListener,
        port.ToString(System.Globalization.CultureInfo.InvariantCulture), acceptSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));

    // Records what one client sends, until it hangs up or is silent for 5 s, and prints it as hex.
    private const string RecordingListener = """
        import socket, sys
        s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); s.settimeout(int(sys.argv[2])); print('ready', flush=True)
        data = b''
        try:
            c, _ = s.accept(); c.settimeout(5)
            while True:
                d = c.recv(65536)
                if not d: break
                data += d
        except Exception: pass
        sys.stdout.write(data.hex()); sys.stdout.flush()
        """;

    /// <summary>Runs a command as <c>nobody</c> to its end: exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(params string[] command)
    {
        using var process = Process.Start(Command(command))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>What the script printed after <c>ready</c>, once it exits.</summary>
    public async Task<string> OutputAsync()
    {
        var output = await _process.StandardOutput.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(60));
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        return output;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        _process.Dispose();
    }

    private static ProcessStartInfo Command(IEnumerable<string> command)
    {
        var start = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = "/" };
        foreach (var part in new[] { $"--reuid={Uid}", $"--regid={Uid}", "--clear-groups" }.Concat(command))
        {
            start.ArgumentList.Add(part);
        }

        return start;
    }
}
