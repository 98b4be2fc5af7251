using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Terrarium.IntegrationTests;

/// <summary>
/// The head's HTTP API for jobs, with a real head started by the CLI and real HTTP: the token is
/// required, a job submitted as a shell command runs to its end and its output is served, bad
/// requests get the right status and a message, and the OpenAPI document describes the API.
/// </summary>
public sealed class JobsHttpApiTests
{
    [SkippableFact]
    public async Task WithoutTheToken_EveryRequestIs401_WithIt_AJobRunsAndItsOutputIsServed()
    {
        await using var cluster = await CliCluster.StartAsync("{}", [], []);
        using var anonymous = new HttpClient { BaseAddress = new Uri(cluster.HttpAddress) };
        foreach (var token in new[] { null, "wrong-token" })
        {
            anonymous.DefaultRequestHeaders.Authorization = token is null ? null : new AuthenticationHeaderValue("Bearer", token);
            var refused = await anonymous.GetAsync("/api/jobs/");
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal("Bearer", Assert.Single(refused.Headers.WwwAuthenticate).Scheme);
            Assert.Contains("missing or wrong cluster token", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync("/api/jobs/", new { entrypoint = "true" })).StatusCode);
        }

        using var http = Client(cluster);
        var submitted = await http.PostAsJsonAsync("/api/jobs/", new
        {
            entrypoint = "echo \"hello $GREETING\"; echo to-stderr >&2",
            submission_id = "over-http",
            runtime_env = new { env_vars = new Dictionary<string, string> { ["GREETING"] = "from http" } },
            metadata = new { via = "http" },
        });
        Assert.Equal(HttpStatusCode.OK, submitted.StatusCode);
        Assert.Equal("over-http", (await submitted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("submission_id").GetString());

        // The live tail ends when the job does.
        var tail = await http.GetStringAsync("/api/jobs/over-http/logs/tail").WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Contains("hello from http", tail, StringComparison.Ordinal);
        var job = await http.GetFromJsonAsync<JsonElement>("/api/jobs/over-http");
        Assert.Equal(("SUCCEEDED", 0, "http"), (job.GetProperty("status").GetString(), job.GetProperty("exit_code").GetInt32(), job.GetProperty("metadata").GetProperty("via").GetString()));
        Assert.Equal(["/bin/sh", "-c", "echo \"hello $GREETING\"; echo to-stderr >&2"], job.GetProperty("entrypoint").EnumerateArray().Select(e => e.GetString()));
        var logs = (await http.GetFromJsonAsync<JsonElement>("/api/jobs/over-http/logs")).GetProperty("logs").GetString();
        Assert.Contains("hello from http\n", logs, StringComparison.Ordinal);
        Assert.Contains("to-stderr\n", logs, StringComparison.Ordinal);
        Assert.Contains((await http.GetFromJsonAsync<JsonElement>("/api/jobs/")).EnumerateArray(), j => j.GetProperty("submission_id").GetString() == "over-http");

        // The CLI sees the same job.
        var status = await cluster.RunAsync("job", "status", "over-http");
        Assert.True(status.ExitCode == 0, status.Stderr);
        Assert.Contains("SUCCEEDED", status.Stdout, StringComparison.Ordinal);

        var document = await http.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        Assert.True(document.GetProperty("paths").TryGetProperty("/api/jobs/{submissionId}/stop", out _), document.GetRawText());
    }

    [SkippableFact]
    public async Task BadRequests_GetTheirStatusAndAMessage_AndALongJobIsStoppedThenDeleted()
    {
        await using var cluster = await CliCluster.StartAsync("{}", [], []);
        using var http = Client(cluster);
        foreach (var (body, status, error) in new (object, HttpStatusCode, string)[]
        {
            (new { submission_id = "x" }, HttpStatusCode.BadRequest, "a job needs an 'entrypoint'"),
            (new { entrypoint = 3 }, HttpStatusCode.BadRequest, "'entrypoint' must be a shell command (a string) or a program and its arguments"),
            (new { entrypoint = "true", entrypoint_num_cpus = 1 }, HttpStatusCode.BadRequest, "unknown key 'entrypoint_num_cpus'"),
            (new { entrypoint = "true", runtime_env = new { working_dir = "/home/me/app" } }, HttpStatusCode.BadRequest, "is a local path: upload it first"),
            (new { entrypoint = "true", runtime_env = new { env_vars = 3 } }, HttpStatusCode.BadRequest, "env_vars"),
            (new { entrypoint = "true", submission_id = "no spaces" }, HttpStatusCode.BadRequest, "submission id 'no spaces' must be"),
        })
        {
            var answer = await http.PostAsJsonAsync("/api/jobs/", body);
            Assert.Equal(status, answer.StatusCode);
            Assert.Contains(error, (await answer.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
        }

        // A driver that leaves a child behind: stopping the job ends both (they share a process group).
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsJsonAsync("/api/jobs/", new { entrypoint = "sleep 600 & echo \"child $!\"; wait", submission_id = "long" })).StatusCode);
        var again = await http.PostAsJsonAsync("/api/jobs/", new { entrypoint = "true", submission_id = "long" });
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/api/jobs/unknown")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/api/jobs/unknown/logs")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.PostAsync("/api/jobs/unknown/stop", null)).StatusCode);

        var child = 0;
        await TestWaits.UntilAsync(async () => System.Text.RegularExpressions.Regex.Match(
            (await http.GetFromJsonAsync<JsonElement>("/api/jobs/long/logs")).GetProperty("logs").GetString()!, @"child (\d+)") is { Success: true } started
            && int.TryParse(started.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture, out child), "the long job to start its child");
        // Its output can come before the heartbeat that says it started.
        await TestWaits.UntilAsync(async () => (await http.GetFromJsonAsync<JsonElement>("/api/jobs/long")).GetProperty("status").GetString() == "RUNNING", "the long job to run");
        var early = await http.DeleteAsync("/api/jobs/long");
        Assert.Equal(HttpStatusCode.Conflict, early.StatusCode);
        Assert.Contains("stop it first", (await early.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);

        var stop = await http.PostAsync("/api/jobs/long/stop", null);
        Assert.True((await stop.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("stopped").GetBoolean());
        await TestWaits.UntilAsync(async () => (await http.GetFromJsonAsync<JsonElement>("/api/jobs/long")).GetProperty("status").GetString() == "STOPPED", "the long job to stop");
        Assert.False(Directory.Exists($"/proc/{child}") && !File.ReadAllText($"/proc/{child}/stat").Contains(") Z ", StringComparison.Ordinal), "the driver's child is gone");
        Assert.Equal(HttpStatusCode.OK, (await http.DeleteAsync("/api/jobs/long")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/api/jobs/long")).StatusCode);
    }

    private static HttpClient Client(CliCluster cluster) => new()
    {
        BaseAddress = new Uri(cluster.HttpAddress),
        DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", CliCluster.Token) },
    };
}
