using System.CommandLine;
using System.Text.Json;
using Grpc.Core;
using Spectre.Console;
using Terrarium.Head.Jobs;
using Terrarium.Protocol;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;

namespace Terrarium.Cli;

/// <summary>
/// <c>terrarium job submit|status|logs|stop|list|delete</c>: drivers the cluster runs for the user
/// (Ray's job submission), through the head. A job's state is PENDING, RUNNING, STOPPED, SUCCEEDED or FAILED.
/// </summary>
internal static class JobCommand
{
    public static Command Create() => new("job", "Submit a driver program for the cluster to run, follow its output, stop it, list jobs")
    {
        JobSubmit.Create(),
        StatusCommand(),
        LogsCommand(),
        StopCommand(),
        ListCommand("list"),
        DeleteCommand(),
    };

    private static Command StatusCommand()
    {
        var connection = new HeadConnection();
        var id = new Argument<string>("submission-id") { Description = "The job's submission id" };
        var json = new Option<bool>("--json") { Description = "Print JSON" };
        var command = new Command("status", "Show a job's state, times, entrypoint and why it failed") { id, json };
        connection.AddTo(command);
        command.SetAction((parse, ct) => UserError.Report(async () =>
        {
            var job = await CallAsync(connection, parse, (head, deadline) => head.GetJobAsync(new GetJobRequest { SubmissionId = parse.GetValue(id) }, deadline: deadline, cancellationToken: ct).ResponseAsync, ct)
                .ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(JobDetails.From(job), JobDetails.Options));
            }
            else
            {
                PrintStatus(job);
            }

            return 0;
        }));
        return command;
    }

    private static Command LogsCommand()
    {
        var connection = new HeadConnection();
        var id = new Argument<string>("submission-id") { Description = "The job's submission id" };
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep printing its output as it comes, until the job ends" };
        var command = new Command("logs", "Print a job's output (the last of it the head keeps)") { id, follow };
        connection.AddTo(command);
        command.SetAction((parse, ct) => UserError.Report(async () =>
        {
            var (head, credentials) = await connection.ResolveAsync(parse, ct).ConfigureAwait(false);
            await PrintLogsAsync(head, credentials, parse.GetValue(id)!, parse.GetValue(follow), ct).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }

    private static Command StopCommand()
    {
        var connection = new HeadConnection();
        var id = new Argument<string>("submission-id") { Description = "The job's submission id" };
        var command = new Command("stop", "Stop a job: its driver gets SIGTERM (SIGKILL 10 s later), then its tasks, workers and non-detached actors end") { id };
        connection.AddTo(command);
        command.SetAction((parse, ct) => UserError.Report(async () =>
        {
            var job = await CallAsync(connection, parse, (head, deadline) => head.StopJobAsync(new StopJobRequest { SubmissionId = parse.GetValue(id) }, deadline: deadline, cancellationToken: ct).ResponseAsync, ct)
                .ConfigureAwait(false);
            Console.Out.WriteLine($"{job.SubmissionId}: {job.State}{(job.Message.Length > 0 ? $" ({job.Message})" : "")}");
            return 0;
        }));
        return command;
    }

    // What `list jobs --filter` may match, by the key the JSON output uses too.
    private static readonly Dictionary<string, Func<JobSubmission, string>> s_jobKeys = new(StringComparer.Ordinal)
    {
        ["submission_id"] = j => j.SubmissionId,
        ["status"] = j => j.State,
        ["job_id"] = j => j.JobId,
        ["node_id"] = j => j.NodeId,
    };

    /// <summary><c>terrarium job list</c>, which is <c>terrarium list jobs</c> too.</summary>
    public static Command ListCommand(string name)
    {
        var connection = new HeadConnection();
        var json = new Option<bool>("--json") { Description = "Print JSON" };
        var filters = new Option<string[]>("--filter") { Description = $"Only jobs whose KEY is VALUE, as status=RUNNING (repeatable; keys: {string.Join(", ", s_jobKeys.Keys)})" };
        var command = new Command(name, "List the submitted jobs, oldest first: state, job, node, times, entrypoint, message") { json, filters };
        connection.AddTo(command);
        command.SetAction((parse, ct) => UserError.Report(async () =>
        {
            var matches = (parse.GetValue(filters) ?? []).Select(f => f.Split('=', 2) is [var key, var value] && s_jobKeys.ContainsKey(key)
                ? (Key: key, Value: value)
                : throw new UserError($"--filter '{f}' is not KEY=VALUE with a key of {string.Join(", ", s_jobKeys.Keys)}")).ToList();
            var listed = await CallAsync(connection, parse, (head, deadline) => head.ListJobsAsync(new ListJobsRequest(), deadline: deadline, cancellationToken: ct).ResponseAsync, ct)
                .ConfigureAwait(false);
            var jobs = listed.Jobs.Where(j => matches.All(m => s_jobKeys[m.Key](j) == m.Value)).ToList();
            if (parse.GetValue(json))
            {
                Console.Out.WriteLine(JsonSerializer.Serialize(jobs.Select(JobDetails.From), JobDetails.Options));
                return 0;
            }

            var table = new Table();
            foreach (var column in new[] { "Submission", "State", "Job", "Node", "Submitted", "Ended", "Entrypoint", "Message" })
            {
                table.AddColumn(column);
            }

            foreach (var job in jobs)
            {
                table.AddRow(Markup.Escape(job.SubmissionId), StateMarkup(job.State), Markup.Escape(job.JobId), Markup.Escape(job.NodeId), EnvCommand.When(job.SubmittedUnixMs),
                    job.EndedUnixMs > 0 ? EnvCommand.When(job.EndedUnixMs) : "", Markup.Escape(string.Join(' ', job.Entrypoint)), Markup.Escape(job.Message));
            }

            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }

    private static Command DeleteCommand()
    {
        var connection = new HeadConnection();
        var id = new Argument<string>("submission-id") { Description = "The job's submission id" };
        var command = new Command("delete", "Forget an ended job: its record and output") { id };
        connection.AddTo(command);
        command.SetAction((parse, ct) => UserError.Report(async () =>
        {
            await CallAsync(connection, parse, (head, deadline) => head.DeleteJobAsync(new DeleteJobRequest { SubmissionId = parse.GetValue(id) }, deadline: deadline, cancellationToken: ct).ResponseAsync, ct)
                .ConfigureAwait(false);
            Console.Out.WriteLine($"{parse.GetValue(id)}: deleted");
            return 0;
        }));
        return command;
    }

    /// <summary>Prints the job's output from its start (what the head keeps of it); with <paramref name="follow"/>, until it ends.</summary>
    public static async Task PrintLogsAsync(Endpoint head, ClusterCredentials credentials, string submissionId, bool follow, CancellationToken ct)
    {
        var (channel, invoker) = ClusterChannel.Open(head, credentials);
        using (channel)
        {
            using var call = new Protocol.Head.HeadClient(invoker).TailJobLogs(new TailJobLogsRequest { SubmissionId = submissionId, Follow = follow }, cancellationToken: ct);
            await using var stdout = Console.OpenStandardOutput();
            try
            {
                await foreach (var chunk in call.ResponseStream.ReadAllAsync(ct).ConfigureAwait(false))
                {
                    await stdout.WriteAsync(chunk.Data.Memory, ct).ConfigureAwait(false);
                    await stdout.FlushAsync(ct).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (ct.IsCancellationRequested && e is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
            {
                throw new UserError($"stopped following job {submissionId}'s output; the job goes on (terrarium job stop {submissionId} stops it)");
            }
            catch (RpcException e)
            {
                throw Mistake(e, head);
            }
        }
    }

    /// <summary>One call to the head; what it refuses is one line for the user.</summary>
    public static async Task<T> CallAsync<T>(HeadConnection connection, ParseResult parse, Func<Protocol.Head.HeadClient, DateTime, Task<T>> call, CancellationToken ct)
    {
        var (head, credentials) = await connection.ResolveAsync(parse, ct).ConfigureAwait(false);
        try
        {
            return await HeadConnection.CallAsync(head, credentials, call).ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            throw Mistake(e, head);
        }
    }

    /// <summary>A refusal the user can act on (an unknown id, a bad request) as a <see cref="UserError"/>; the rest as it is.</summary>
    public static Exception Mistake(RpcException e, Endpoint head) => e.StatusCode switch
    {
        StatusCode.NotFound or StatusCode.InvalidArgument or StatusCode.AlreadyExists or StatusCode.FailedPrecondition => new UserError(e.Status.Detail),
        StatusCode.Unavailable or StatusCode.DeadlineExceeded => new UserError($"cannot reach the head at {head}: {e.Status.Detail}{TlsFailure.Hint(e)}"),
        _ => e,
    };

    /// <summary>The exit code of <c>job submit</c> once the job ended: 0 when it succeeded, the driver's status when it failed with one, else 1.</summary>
    public static int ExitCodeOf(JobSubmission job) => job.State switch
    {
        "SUCCEEDED" => 0,
        "FAILED" when job.Exited && job.ExitCode is > 0 and < 256 => job.ExitCode,
        _ => 1,
    };

    public static void PrintStatus(JobSubmission job)
    {
        var grid = new Grid().AddColumn().AddColumn();
        grid.AddRow("Submission", Markup.Escape(job.SubmissionId));
        grid.AddRow("State", StateMarkup(job.State));
        if (job.Message.Length > 0)
        {
            grid.AddRow("Message", Markup.Escape(job.Message));
        }

        grid.AddRow("Entrypoint", Markup.Escape(string.Join(' ', job.Entrypoint)));
        grid.AddRow("Submitted", EnvCommand.When(job.SubmittedUnixMs));
        grid.AddRow("Started", job.StartedUnixMs > 0 ? EnvCommand.When(job.StartedUnixMs) : "-");
        grid.AddRow("Ended", job.EndedUnixMs > 0 ? EnvCommand.When(job.EndedUnixMs) : "-");
        grid.AddRow("Node", job.NodeId.Length > 0 ? Markup.Escape(job.NodeId) : "-");
        grid.AddRow("Driver", job.DriverPid > 0 ? $"pid {job.DriverPid}{(job.Exited ? $", exit status {job.ExitCode}" : "")}" : "-");
        grid.AddRow("Job", job.JobId.Length > 0 ? Markup.Escape(job.JobId) : "-");
        grid.AddRow("Runtime env", Markup.Escape(job.RuntimeEnv.Length > 0 ? job.RuntimeEnv : "{}"));
        AnsiConsole.Write(grid);
    }

    private static string StateMarkup(string state) => state switch
    {
        "SUCCEEDED" => "[green]SUCCEEDED[/]",
        "FAILED" => "[red]FAILED[/]",
        "RUNNING" => "[blue]RUNNING[/]",
        _ => state,
    };
}
