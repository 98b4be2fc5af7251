using System.CommandLine;
using Microsoft.Extensions.Logging;
using Terrarium.Packaging;
using Terrarium.Protocol;

namespace Terrarium.Cli;

/// <summary>
/// <c>terrarium job submit [--working-dir DIR] [--runtime-env FILE|--runtime-env-json JSON] [--submission-id ID]
/// [--metadata K=V]... [--no-wait] -- ENTRYPOINT...</c>: packages and uploads the working dir (as a
/// driver does, under the submission's id, so the head's store keeps it), submits the job, and
/// follows its output until it ends, exiting with its status.
/// </summary>
internal static class JobSubmit
{
    public static Command Create()
    {
        var connection = new HeadConnection();
        var workingDir = new Option<string?>("--working-dir") { Description = "A local folder (or .zip) the driver runs in, uploaded to the head's store; it replaces the runtime env's working_dir" };
        var envFile = new Option<string?>("--runtime-env") { Description = "A JSON file with the job's runtime env: the default of every task and actor its driver makes" };
        var envJson = new Option<string?>("--runtime-env-json") { Description = "The job's runtime env as JSON" };
        var submissionId = new Option<string?>("--submission-id") { Description = "The job's id (default: one the CLI draws); letters, digits, '-', '_', '.'" };
        var metadata = new Option<string[]>("--metadata") { Description = "KEY=VALUE kept with the job (repeatable)" };
        var noWait = new Option<bool>("--no-wait") { Description = "Print the submission id and return, instead of following the job's output until it ends" };
        var entrypoint = new Argument<string[]>("entrypoint") { Description = "After --: the driver's program and its arguments, as `-- dotnet MyApp.dll`", Arity = ArgumentArity.OneOrMore };
        var command = new Command("submit", "Run a driver on the cluster as a job: exits 0 when it succeeds, its exit status when it fails with one, else 1")
        {
            workingDir, envFile, envJson, submissionId, metadata, noWait, entrypoint,
        };
        connection.AddTo(command);
        command.SetAction((parse, ct) => UserError.Report(async () =>
        {
            var env = ReadEnv(parse.GetValue(envFile), parse.GetValue(envJson));
            if (parse.GetValue(workingDir) is { } dir)
            {
                var full = Path.GetFullPath(dir);
                env = env with { WorkingDir = Directory.Exists(full) || File.Exists(full) ? full : throw new UserError($"--working-dir '{dir}' does not exist") };
            }

            var request = new SubmitJobRequest
            {
                SubmissionId = parse.GetValue(submissionId) ?? $"submit-{Guid.NewGuid():N}"[..19],
                Entrypoint = { parse.GetValue(entrypoint)! },
                Metadata = { ParseMetadata(parse.GetValue(metadata) ?? []) },
            };
            var (head, credentials) = await connection.ResolveAsync(parse, ct).ConfigureAwait(false);
            var job = await SubmitAsync(head, credentials, request, env, ct).ConfigureAwait(false);
            if (parse.GetValue(noWait))
            {
                Console.Out.WriteLine(job.SubmissionId);
                return 0;
            }

            await Console.Error.WriteLineAsync($"terrarium: job {job.SubmissionId} submitted; its output follows (Ctrl+C stops following, not the job: terrarium job stop {job.SubmissionId})")
                .ConfigureAwait(false);
            await JobCommand.PrintLogsAsync(head, credentials, job.SubmissionId, follow: true, ct).ConfigureAwait(false);
            var ended = await HeadConnection.CallAsync(head, credentials, (h, deadline) => h.GetJobAsync(new GetJobRequest { SubmissionId = job.SubmissionId }, deadline: deadline).ResponseAsync)
                .ConfigureAwait(false);
            await Console.Error.WriteLineAsync($"terrarium: job {ended.SubmissionId} {ended.State}{(ended.Message.Length > 0 ? $": {ended.Message}" : "")}").ConfigureAwait(false);
            return JobCommand.ExitCodeOf(ended);
        }));
        return command;
    }

    /// <summary>Uploads what the env names locally (waiting for the uploads), then submits the job with the env's URIs.</summary>
    private static async Task<JobSubmission> SubmitAsync(Protocol.Transport.Endpoint head, Protocol.Security.ClusterCredentials credentials, SubmitJobRequest request,
        RuntimeEnv env, CancellationToken ct)
    {
        var (channel, invoker) = Protocol.Transport.ClusterChannel.Open(head, credentials);
        using (channel)
        {
            var client = new Protocol.Head.HeadClient(invoker);
            using var loggers = LoggerFactory.Create(builder => builder.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning));
            var logger = loggers.CreateLogger("terrarium");
            var uploader = new PackageUploader(client, request.SubmissionId, logger);
            RuntimeEnv resolved;
            try
            {
                resolved = new EnvPackager(new DirectoryPackager(1L << 30, logger), uploader).Resolve(env, "--runtime-env");
                await uploader.UploadsDoneAsync().ConfigureAwait(false);
                request.RuntimeEnv = resolved.ToJson() is var json && json != "{}" ? json : "";
                return await client.SubmitJobAsync(request, deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: ct).ConfigureAwait(false);
            }
            catch (Grpc.Core.RpcException e)
            {
                throw JobCommand.Mistake(e, head);
            }
        }
    }

    private static RuntimeEnv ReadEnv(string? file, string? json)
    {
        if (file is not null && json is not null)
        {
            throw new UserError("give --runtime-env or --runtime-env-json, not both");
        }

        var text = file is null ? json : File.Exists(file) ? File.ReadAllText(file) : throw new UserError($"--runtime-env '{file}' does not exist");
        if (text is null)
        {
            return new RuntimeEnv();
        }

        try
        {
            return RuntimeEnv.FromJson(text);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or System.Text.Json.JsonException)
        {
            throw new UserError($"{(file is null ? "--runtime-env-json" : $"--runtime-env '{file}'")}: {e.Message}");
        }
    }

    private static Dictionary<string, string> ParseMetadata(IEnumerable<string> pairs)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in pairs)
        {
            var (key, value) = pair.Split('=', 2) is [{ Length: > 0 } k, var v] ? (k, v) : throw new UserError($"--metadata '{pair}' is not KEY=VALUE");
            if (!metadata.TryAdd(key, value))
            {
                throw new UserError($"--metadata gives '{key}' twice");
            }
        }

        return metadata;
    }
}
