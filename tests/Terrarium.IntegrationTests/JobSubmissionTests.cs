using System.Text.Json;

namespace Terrarium.IntegrationTests;

/// <summary>
/// Submitted jobs through the CLI, with a real head, nodes and driver: <c>terrarium job submit</c>
/// runs a driver (tests/Fixtures/JobDriver, from a copy of its output folder as the working dir) on a
/// node, follows its output to the end and exits with its status; the job's runtime env is its
/// tasks' default; a job can be stopped, listed, shown and deleted, and bad input is one line.
/// </summary>
public sealed class JobSubmissionTests : IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("terrarium-jobs-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [SkippableFact]
    public async Task ASubmittedJob_RunsInItsWorkingDirWithItsEnv_IsFollowedToTheEnd_AndSucceeds()
    {
        await using var cluster = await CliCluster.StartAsync("{}", [], []);

        var submit = await cluster.RunAsync("job", "submit", "--working-dir", DriverFolder(), "--runtime-env-json", """{"env_vars": {"MODE": "submitted"}}""",
            "--submission-id", "first", "--metadata", "owner=tests", "--", Dotnet, "JobDriver.dll", "run");

        Assert.True(submit.ExitCode == 0, submit.Stderr);
        Assert.Contains("driver of job job-", submit.Stdout, StringComparison.Ordinal);
        Assert.Contains("MODE=submitted", submit.Stdout, StringComparison.Ordinal);
        Assert.Contains("hello.txt says: from the test", submit.Stdout, StringComparison.Ordinal);
        Assert.Contains("tasks saw MODE=submitted,submitted,submitted", submit.Stdout, StringComparison.Ordinal);
        Assert.Contains("done", submit.Stdout, StringComparison.Ordinal);
        Assert.Contains("terrarium: job first SUCCEEDED", submit.Stderr, StringComparison.Ordinal);

        var status = await JsonAsync(cluster, "job", "status", "first", "--json");
        Assert.Equal(("SUCCEEDED", 0, "tests"), (status.GetProperty("status").GetString(), status.GetProperty("exit_code").GetInt32(),
            status.GetProperty("metadata").GetProperty("owner").GetString()));
        Assert.StartsWith("job-", status.GetProperty("job_id").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("pkg://", status.GetProperty("runtime_env").GetProperty("working_dir").GetString(), StringComparison.Ordinal);
        Assert.Equal([Dotnet, "JobDriver.dll", "run"], status.GetProperty("entrypoint").EnumerateArray().Select(e => e.GetString()));

        // Its output again, from the head; and the job in the list.
        var logs = await cluster.RunAsync("job", "logs", "first");
        Assert.True(logs.ExitCode == 0, logs.Stderr);
        Assert.Equal(submit.Stdout, logs.Stdout);
        var listed = await JsonAsync(cluster, "job", "list", "--json");
        Assert.Equal(["first"], listed.EnumerateArray().Select(j => j.GetProperty("submission_id").GetString()));
        Assert.Equal(listed.GetRawText(), (await JsonAsync(cluster, "list", "jobs", "--json")).GetRawText());
        Assert.Single((await JsonAsync(cluster, "list", "jobs", "--json", "--filter", "status=SUCCEEDED")).EnumerateArray());
        Assert.Empty((await JsonAsync(cluster, "list", "jobs", "--json", "--filter", "status=RUNNING")).EnumerateArray());
        var badJobFilter = await cluster.RunAsync("list", "jobs", "--filter", "owner=me");
        Assert.Equal(1, badJobFilter.ExitCode);
        Assert.Contains("--filter 'owner=me' is not KEY=VALUE with a key of submission_id, status, job_id, node_id", badJobFilter.Stderr, StringComparison.Ordinal);
        var node = Assert.Single((await JsonAsync(cluster, "list", "nodes", "--json", "--filter", "state=alive")).EnumerateArray());
        Assert.Equal(cluster.Daemons[0].NodeId, node.GetProperty("node_id").GetString());
        Assert.Equal(1, node.GetProperty("resources").GetProperty("CPU").GetDouble());
        Assert.Empty((await JsonAsync(cluster, "list", "nodes", "--json", "--filter", "state=dead")).EnumerateArray());
        var badFilter = await cluster.RunAsync("list", "nodes", "--filter", "color=red");
        Assert.Equal(1, badFilter.ExitCode);
        Assert.Contains("--filter 'color=red' is not KEY=VALUE", badFilter.Stderr, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task AFailingJob_FailsWithItsDriversStatus_AndMistakesAreOneLine()
    {
        await using var cluster = await CliCluster.StartAsync("{}", [], []);
        var folder = DriverFolder();

        var failing = await cluster.RunAsync("job", "submit", "--working-dir", folder, "--submission-id", "failing", "--", Dotnet, "JobDriver.dll", "fail", "3");
        Assert.Equal(3, failing.ExitCode);
        Assert.Contains("about to fail", failing.Stdout, StringComparison.Ordinal);
        Assert.Contains("terrarium: job failing FAILED: its driver exited with status 3", failing.Stderr, StringComparison.Ordinal);

        var missing = await cluster.RunAsync("job", "submit", "--submission-id", "missing", "--", "/nonexistent/driver");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("terrarium: job missing FAILED: its entrypoint '/nonexistent/driver' could not be started on node", missing.Stderr, StringComparison.Ordinal);

        foreach (var (arguments, error) in new (string[], string)[]
        {
            (["job", "submit", "--submission-id", "failing", "--", "true"], "a job with submission id 'failing' exists already"),
            (["job", "submit", "--submission-id", "bad id", "--", "true"], "submission id 'bad id' must be 1 to 64 letters"),
            (["job", "submit", "--runtime-env-json", """{"env_vars": 3}""", "--", "true"], "--runtime-env-json: "),
            (["job", "submit", "--runtime-env", Path.Combine(_scratch, "nothing.json"), "--", "true"], "does not exist"),
            (["job", "submit", "--working-dir", Path.Combine(_scratch, "nowhere"), "--", "true"], "--working-dir"),
            (["job", "status", "unknown"], "no job has submission id 'unknown'"),
            (["job", "logs", "unknown"], "no job has submission id 'unknown'"),
            (["job", "stop", "unknown"], "no job has submission id 'unknown'"),
            (["job", "delete", "unknown"], "no job has submission id 'unknown'"),
        })
        {
            var (exitCode, _, stderr) = await cluster.RunAsync(arguments);
            Assert.True(exitCode == 1, $"{string.Join(' ', arguments)}: exit {exitCode}, {stderr}");
            Assert.Contains(error, stderr, StringComparison.Ordinal);
            Assert.Single(stderr.Trim().Split('\n'));
        }
    }

    [SkippableFact]
    public async Task StoppingALongJob_EndsItsDriverItsActorsAndItsWorkers_ThenItCanBeDeleted()
    {
        await using var cluster = await CliCluster.StartAsync("{}", [], []);
        var submit = await cluster.RunAsync("job", "submit", "--working-dir", DriverFolder(), "--no-wait", "--", Dotnet, "JobDriver.dll", "hold", "keeper");
        Assert.True(submit.ExitCode == 0, submit.Stderr);
        var id = submit.Stdout.Trim();
        await TestWaits.UntilAsync(async () => (await cluster.RunAsync("job", "logs", id)).Stdout.Contains("holding", StringComparison.Ordinal), "the driver to hold its actor and task");
        var running = await JsonAsync(cluster, "job", "status", id, "--json");
        Assert.Equal("RUNNING", running.GetProperty("status").GetString());
        var jobId = running.GetProperty("job_id").GetString();
        var driverPid = running.GetProperty("driver_pid").GetInt32();
        var actors = await JsonAsync(cluster, "list", "actors", "--json");
        Assert.Contains(actors.EnumerateArray(), a => a.GetProperty("name").GetString() == "keeper" && a.GetProperty("job_id").GetString() == jobId && a.GetProperty("state").GetString() == "alive");

        var early = await cluster.RunAsync("job", "delete", id);
        Assert.Equal(1, early.ExitCode);
        Assert.Contains($"job '{id}' is RUNNING: stop it first", early.Stderr, StringComparison.Ordinal);

        var stop = await cluster.RunAsync("job", "stop", id);
        Assert.True(stop.ExitCode == 0, stop.Stderr);
        await TestWaits.UntilAsync(async () => (await JsonAsync(cluster, "job", "status", id, "--json")).GetProperty("status").GetString() == "STOPPED", "the job to be stopped");
        Assert.False(Directory.Exists($"/proc/{driverPid}"), "the driver is gone");
        await using var observer = await Cluster.InitAsync(cluster.DriverOptions).DefaultTimeout();
        await TestWaits.UntilAsync(async () => (await observer.GetStatusAsync()).Nodes.SelectMany(n => n.Workers).All(w => w.JobId != jobId),
            "the job's workers (its task's and its actor's) to end");
        await Assert.ThrowsAsync<KeyNotFoundException>(() => observer.GetActorAsync<ClusterWork.NodeCounter>("keeper")).DefaultTimeout();

        var deleted = await cluster.RunAsync("job", "delete", id);
        Assert.True(deleted.ExitCode == 0, deleted.Stderr);
        Assert.Equal(1, (await cluster.RunAsync("job", "status", id)).ExitCode);
    }

    [SkippableFact]
    public async Task JobHistoryAndOutput_SurviveAHeadRestartedWithRedis()
    {
        using var redis = await RedisServer.StartAsync();
        await using var cluster = await CliCluster.StartAsync("{}", ["--redis", redis.Url, "--job-log-limit", "4KiB"], "{}");
        var ran = await cluster.RunAsync("job", "submit", "--working-dir", DriverFolder(), "--submission-id", "remembered", "--", Dotnet, "JobDriver.dll", "fail", "5");
        Assert.Equal(5, ran.ExitCode);

        cluster.Daemons[0].Kill();
        await cluster.RestartHeadAsync();

        var status = await JsonAsync(cluster, "job", "status", "remembered", "--json");
        Assert.Equal(("FAILED", 5), (status.GetProperty("status").GetString(), status.GetProperty("exit_code").GetInt32()));
        var logs = await cluster.RunAsync("job", "logs", "remembered");
        Assert.True(logs.ExitCode == 0, logs.Stderr);
        Assert.Equal(ran.Stdout, logs.Stdout);
    }

    private static string Dotnet => Terrarium.Node.WorkerHostCommand.CurrentDotnet();

    /// <summary>A copy of the JobDriver fixture's output folder, with a hello.txt: a job's working dir.</summary>
    private string DriverFolder()
    {
        // tests/Terrarium.IntegrationTests/bin/<configuration>/net10.0/ → tests/Fixtures/JobDriver/bin/<configuration>/net10.0/
        var output = new DirectoryInfo(AppContext.BaseDirectory);
        var built = Path.GetFullPath(Path.Combine(output.FullName, "..", "..", "..", "..", "Fixtures", "JobDriver", "bin", output.Parent!.Name, output.Name));
        var copy = Directory.CreateDirectory(Path.Combine(_scratch, "driver-" + Guid.NewGuid().ToString("N")[..6])).FullName;
        foreach (var file in Directory.EnumerateFiles(built, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(copy, Path.GetRelativePath(built, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        File.WriteAllText(Path.Combine(copy, "hello.txt"), "from the test");
        return copy;
    }

    private static async Task<JsonElement> JsonAsync(CliCluster cluster, params string[] arguments)
    {
        var (exitCode, stdout, stderr) = await cluster.RunAsync(arguments);
        Assert.True(exitCode == 0, $"{string.Join(' ', arguments)}: {stderr}");
        return JsonDocument.Parse(stdout).RootElement.Clone();
    }
}
