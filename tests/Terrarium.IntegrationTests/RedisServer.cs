using System.Diagnostics;

namespace Terrarium.IntegrationTests;

/// <summary>
/// A real <c>redis-server</c> on a free loopback port, nothing saved to disk, ended with the test.
/// It asks for a password unless a test wants one that does not (the head refuses such a Redis).
/// </summary>
public sealed class RedisServer : IDisposable
{
    private readonly Process _process;

    private RedisServer(Process process, int port, string url, string configuration)
    {
        _process = process;
        Port = port;
        Url = url;
        Configuration = configuration;
    }

    /// <summary>How clients log in.</summary>
    public enum Login
    {
        /// <summary><c>--requirepass</c>: <c>redis://:PASSWORD@host:port</c>.</summary>
        Password,

        /// <summary>An ACL user of its own, the default user off: <c>redis://terrarium:PASSWORD@host:port</c>.</summary>
        AclUser,

        /// <summary>None: anyone who reaches the port may write.</summary>
        None,
    }

    public int Port { get; }

    /// <summary>The address with credentials, as <c>--redis</c> takes it.</summary>
    public string Url { get; }

    /// <summary>The same as a StackExchange.Redis configuration string.</summary>
    public string Configuration { get; }

    public static async Task<RedisServer> StartAsync(Login login = Login.Password)
    {
        Requirements.Tool("redis-server", "the head's Redis persistence is tested against a real Redis (apt-get install redis-server)");
        var port = TestProcesses.FreePort();
        var password = Guid.NewGuid().ToString("N");
        string[] auth = login switch
        {
            Login.Password => ["--requirepass", password],
            Login.AclUser => ["--user", "default", "off", "--user", "terrarium", "on", ">" + password, "~*", "&*", "+@all"],
            _ => [],
        };
        var url = login switch
        {
            Login.Password => $"redis://:{password}@127.0.0.1:{port}",
            Login.AclUser => $"redis://terrarium:{password}@127.0.0.1:{port}",
            _ => $"redis://127.0.0.1:{port}",
        };
        var configuration = login switch
        {
            Login.Password => $"127.0.0.1:{port},password={password}",
            Login.AclUser => $"127.0.0.1:{port},user=terrarium,password={password}",
            _ => $"127.0.0.1:{port}",
        };
        var process = Process.Start(new ProcessStartInfo("redis-server",
            ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", .. auth])
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;
        _ = process.StandardOutput.ReadToEndAsync();
        var server = new RedisServer(process, port, url, configuration);
        await TestWaits.UntilAsync(() => TestProcesses.Accepts(port) || process.HasExited, "redis-server listens");
        return process.HasExited ? throw new InvalidOperationException($"redis-server exited with {process.ExitCode}") : server;
    }

    /// <summary>Sets one field of a hash, as the head's store or anyone with the credentials could.</summary>
    public async Task HashSetAsync(string key, string field, byte[] value)
    {
        await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(Configuration);
        await redis.GetDatabase().HashSetAsync(key, field, value);
    }

    public void Dispose()
    {
        _process.Kill();
        _process.WaitForExit();
        _process.Dispose();
    }
}
