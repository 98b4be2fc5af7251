using System.Diagnostics;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Grpc.Core;
using Mono.Unix.Native;
using Terrarium.Protocol;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.IntegrationTests;

/// <summary>
/// TCP between a cluster's processes is TLS with the cluster's CA: a client checks the server before
/// it sends the token, so a listener that is not the cluster's gets nothing, and nothing secret
/// crosses loopback (or a network) in clear — unless the cluster is started with --insecure.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class TlsTests
{
    // Serves TLS with a certificate of its own, then records what the client sends inside TLS.
    private const string TlsListener = """
        import socket, ssl, sys
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[2], sys.argv[3]); ctx.set_alpn_protocols(['h2'])
        s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); print('ready', flush=True)
        c, _ = s.accept(); c.settimeout(5); data = b''
        try:
            t = ctx.wrap_socket(c, server_side=True)
            while True:
                d = t.recv(65536)
                if not d: break
                data += d
        except Exception as e: sys.stderr.write(str(e))
        sys.stdout.write(data.hex()); sys.stdout.flush()
        """;

    private const string Token = "tls-tests-token-that-must-never-leak";

    [SkippableFact]
    public async Task Channel_ToAPlainListenerOfAnotherUser_SendsOnlyAHandshake_NeverTheToken()
    {
        AnotherUser.Require();
        using var authority = ClusterCertificateAuthority.CreateEphemeral();
        var port = TestProcesses.FreePort();
        using var impostor = await AnotherUser.ListenAsync(port);

        var error = await CallAsync(Endpoint.Tcp("127.0.0.1", port), new ClusterCredentials(Token, ClusterTls.Trusting([authority.Certificate])));

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        var received = Convert.FromHexString((await impostor.OutputAsync()).Trim());
        Assert.NotEmpty(received);
        Assert.Equal(0x16, received[0]); // a TLS handshake record: the ClientHello
        Assert.DoesNotContain(Token, Encoding.Latin1.GetString(received), StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Channel_ToATlsListenerWithACertificateOfAnotherCa_FailsTheHandshake_AndSendsItNothing()
    {
        AnotherUser.Require();
        using var cluster = ClusterCertificateAuthority.CreateEphemeral();
        using var other = ClusterCertificateAuthority.CreateEphemeral();
        var folder = Directory.CreateTempSubdirectory("terrarium-impostor-").FullName;
        try
        {
            File.SetUnixFileMode(folder, (UnixFileMode)0b111_101_101);
            using var certificate = other.IssueWithNewKey("impostor", ["127.0.0.1"]);
            await File.WriteAllTextAsync(Path.Combine(folder, "cert.pem"), certificate.ExportCertificatePem());
            await File.WriteAllTextAsync(Path.Combine(folder, "key.pem"), certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
            File.SetUnixFileMode(Path.Combine(folder, "key.pem"), (UnixFileMode)0b110_100_100);
            var port = TestProcesses.FreePort();
            using var impostor = await AnotherUser.StartPythonAsync(TlsListener, port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                Path.Combine(folder, "cert.pem"), Path.Combine(folder, "key.pem"));

            var error = await CallAsync(Endpoint.Tcp("127.0.0.1", port), new ClusterCredentials(Token, ClusterTls.Trusting([cluster.Certificate])));

            Assert.Contains("TLS handshake failed", error.Message + TlsFailure.Hint(error), StringComparison.Ordinal);
            Assert.Equal("", (await impostor.OutputAsync()).Trim());
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [SkippableFact]
    public async Task Capture_OfAJoinAndATaskOnLoopback_HoldsNeitherTheTokenNorTheArgument_WhileAnInsecureClusterShowsBoth()
    {
        Requirements.Root();
        Requirements.Tool("tcpdump", "the test captures loopback traffic (apt-get install tcpdump)");
        var argument = "an-argument-in-clear-" + Guid.NewGuid().ToString("N");

        var secure = await CaptureAsync([], argument);
        var insecure = await CaptureAsync(["--insecure"], argument);

        Assert.DoesNotContain(CliCluster.Token, secure, StringComparison.Ordinal);
        Assert.DoesNotContain(argument, secure, StringComparison.Ordinal);
        // The same capture of a cluster without TLS shows both: the capture sees what crosses.
        Assert.Contains(CliCluster.Token, insecure, StringComparison.Ordinal);
        Assert.Contains(argument, insecure, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task InsecureCluster_StatusSaysSoInRed_AndAJoinWithoutInsecureIsRefused()
    {
        await using var cluster = await CliCluster.StartAsync("{}", headArguments: ["--insecure"]);

        var status = await cluster.RunAsync("status", "--insecure");
        var join = await cluster.RunAsync("start", "--address", cluster.HeadAddress, "--token", CliCluster.Token, "--block");
        var statusWithoutInsecure = await cluster.RunAsync("status");

        Assert.True(status.ExitCode == 0, status.Stderr);
        Assert.Contains("(TLS off)", status.Stdout, StringComparison.Ordinal);
        Assert.Contains("runs without TLS (--insecure)", status.Stdout, StringComparison.Ordinal);
        // Plain TCP is never chosen for the user, even for a head this machine runs: it is asked for each time.
        Assert.Equal(1, join.ExitCode);
        Assert.Contains("or, for a cluster started with --insecure, (TERRARIUM_INSECURE=1 or --insecure)", join.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, statusWithoutInsecure.ExitCode);
    }

    [SkippableFact]
    public async Task Join_WithAnotherClustersCaHash_IsRefusedNamingBothHashes_AndSoIsADriver()
    {
        await using var cluster = await CliCluster.StartAsync("{}");
        using var other = ClusterCertificateAuthority.CreateEphemeral();

        var join = await cluster.RunAsync("start", "--address", cluster.HeadAddress, "--token", CliCluster.Token, "--ca-hash", other.Hash, "--block");
        var driver = await Assert.ThrowsAsync<AuthenticationException>(() => Cluster.InitAsync(new ClusterOptions { Address = cluster.HeadAddress, Token = CliCluster.Token, CaHash = other.Hash, LogToDriver = false }));

        Assert.Equal(1, join.ExitCode);
        Assert.Contains($"is not the cluster pinned by {other.Hash}: its CA has hash {cluster.CaHash}", join.Stderr, StringComparison.Ordinal);
        Assert.Contains(other.Hash, driver.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Head_KeepsItsCaOwnerOnly_AndPrintsTheSamePinAfterARestart()
    {
        await using var cluster = await CliCluster.StartAsync("{}");
        var pin = cluster.CaHash;

        await cluster.Daemons[0].StopAsync();
        await cluster.RestartHeadAsync();

        var folder = Path.Combine(cluster.ConfigDirectory, "terrarium");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(folder, "ca.key")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
        Assert.Equal(pin, cluster.Daemons[0].CaHash);
        await using var driver = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout();
        Assert.Equal(9, await driver.Submit(() => TestTasks.Square(3)).DefaultTimeout());
    }

    [SkippableFact]
    public async Task OperatorPki_CertificatesMadeWithOpenssl_CarryAHeadANodeADriverAndAnActor_AndANodeOfAnotherCaIsRefused()
    {
        Requirements.Tool("openssl", "the test makes an operator's PKI with openssl (apt-get install openssl)");
        var pki = Directory.CreateTempSubdirectory("terrarium-pki-").FullName;
        try
        {
            var ca = await OpensslAuthorityAsync(pki, "ca");
            var head = await OpensslCertificateAsync(pki, "ca", "head");
            var node = await OpensslCertificateAsync(pki, "ca", "node");
            await OpensslAuthorityAsync(pki, "other");
            var stranger = await OpensslCertificateAsync(pki, "other", "stranger");

            await using var cluster = await CliCluster.StartAsync(null);
            await cluster.StartHeadAsync("{}", "--tls-cert", head.Certificate, "--tls-key", head.Key, "--tls-ca", ca);
            var joined = await cluster.AddNodeAsync("""{"second": 1}""", "--tls-cert", node.Certificate, "--tls-key", node.Key, "--tls-ca", ca);
            var refused = await cluster.RunAsync("start", "--address", cluster.HeadAddress, "--token", CliCluster.Token,
                "--tls-cert", stranger.Certificate, "--tls-key", stranger.Key, "--tls-ca", Path.Combine(pki, "other.pem"), "--block");

            using var authority = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(ca));
            var options = new ClusterOptions { Address = cluster.HeadAddress, Token = CliCluster.Token, CaHash = CaHash.Of(authority), LogToDriver = false };
            await using var driver = await Cluster.InitAsync(options).DefaultTimeout();
            var onNode = new TaskOptions { Resources = { ["second"] = 1 } };
            Assert.Equal(49, await driver.Submit(() => TestTasks.Square(7), onNode).DefaultTimeout());
            var actor = driver.CreateActor(() => new ClusterWork.NodeCounter(), new ActorOptions { NumCpus = 0, Resources = { ["second"] = 1 } });
            Assert.Equal(joined.NodeId, await actor.Call(c => c.Where()).DefaultTimeout());
            Assert.Equal(3, await actor.Call(c => c.Add(3)).DefaultTimeout());

            // Signed by another CA, a node cannot even reach the head: the head's certificate is not of its CA.
            Assert.NotEqual(0, refused.ExitCode);
            Assert.Contains("the TLS handshake failed: the server's certificate is not signed by the cluster's CA", refused.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(pki, recursive: true);
        }
    }

    private static async Task<string> OpensslAuthorityAsync(string folder, string name)
    {
        await RunOpensslAsync(folder, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30",
            "-subj", $"/CN=Operator {name} CA", "-keyout", $"{name}.key", "-out", $"{name}.pem");
        return Path.Combine(folder, $"{name}.pem");
    }

    /// <summary>A certificate for a daemon on this machine, as an operator's CA would sign it: for 127.0.0.1, to serve and to call.</summary>
    private static async Task<(string Certificate, string Key)> OpensslCertificateAsync(string folder, string authority, string name)
    {
        await File.WriteAllTextAsync(Path.Combine(folder, $"{name}.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n");
        await RunOpensslAsync(folder, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-subj", $"/CN={name}", "-keyout", $"{name}.key", "-out", $"{name}.csr");
        await RunOpensslAsync(folder, "x509", "-req", "-in", $"{name}.csr", "-CA", $"{authority}.pem", "-CAkey", $"{authority}.key",
            "-CAcreateserial", "-days", "30", "-extfile", $"{name}.ext", "-out", $"{name}.pem");
        return (Path.Combine(folder, $"{name}.pem"), Path.Combine(folder, $"{name}.key"));
    }

    private static async Task RunOpensslAsync(string folder, params string[] arguments)
    {
        using var openssl = Process.Start(new ProcessStartInfo("openssl", arguments)
        {
            WorkingDirectory = folder,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;
        var stderr = openssl.StandardError.ReadToEndAsync();
        await openssl.StandardOutput.ReadToEndAsync();
        await openssl.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        Assert.True(openssl.ExitCode == 0, $"openssl {string.Join(' ', arguments)}: {await stderr}");
    }

    private static async Task<RpcException> CallAsync(Endpoint server, ClusterCredentials credentials)
    {
        var (channel, invoker) = ClusterChannel.Open(server, credentials);
        using (channel)
        {
            return await Assert.ThrowsAsync<RpcException>(async () =>
                await new Protocol.Node.NodeClient(invoker).GetStatusAsync(new GetStatusRequest(), deadline: DateTime.UtcNow.AddSeconds(20)));
        }
    }

    /// <summary>Everything that crossed loopback while a head and a node started and a driver ran one task with <paramref name="argument"/>.</summary>
    private static async Task<string> CaptureAsync(string[] headArguments, string argument)
    {
        var file = Path.Combine(Path.GetTempPath(), $"terrarium-capture-{Guid.NewGuid():N}.pcap");
        // -B: a large kernel buffer, so that the driver's package upload does not crowd packets out.
        using var tcpdump = Process.Start(new ProcessStartInfo("tcpdump", ["-i", "lo", "-U", "-s", "0", "-B", "131072", "-w", file, "tcp"])
        {
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        try
        {
            while (await tcpdump.StandardError.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30)) is { } line && !line.Contains("listening on", StringComparison.Ordinal))
            {
            }

            await using (var cluster = await CliCluster.StartAsync("{}", headArguments, "{\"second\": 1}"))
            {
                await using var driver = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout();
                Assert.Equal(argument, await driver.Submit(() => TestTasks.Echo(argument), new TaskOptions { Resources = { ["second"] = 1 } }).DefaultTimeout());
            }

            // tcpdump writes packets some time after they cross; stopped at once, it can lose the last
            // ones (the task's). A marker sent last, once written, shows everything before it is too.
            var marker = "terrarium-capture-end-" + Guid.NewGuid().ToString("N");
            await SendOverLoopbackAsync(marker);
            await WaitUntilWrittenAsync(file, marker);
        }
        finally
        {
            Syscall.kill(tcpdump.Id, Signum.SIGINT);
            await tcpdump.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }

        try
        {
            return Encoding.Latin1.GetString(await File.ReadAllBytesAsync(file));
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static async Task SendOverLoopbackAsync(string text)
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            using var client = new System.Net.Sockets.TcpClient();
            await client.ConnectAsync(System.Net.IPAddress.Loopback, ((System.Net.IPEndPoint)listener.LocalEndpoint).Port);
            using var server = await listener.AcceptTcpClientAsync();
            await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes(text));
            var received = new byte[text.Length];
            await server.GetStream().ReadExactlyAsync(received);
        }
        finally
        {
            listener.Stop();
        }
    }

    private static async Task WaitUntilWrittenAsync(string file, string marker)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!Encoding.Latin1.GetString(await ReadSharedAsync(file)).Contains(marker, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"tcpdump did not write the end marker to {file} within 60 s");
            await Task.Delay(100);
        }
    }

    // tcpdump holds the file open for writing while it runs.
    private static async Task<byte[]> ReadSharedAsync(string file)
    {
        await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var bytes = new byte[stream.Length];
        await stream.ReadExactlyAsync(bytes);
        return bytes;
    }
}
