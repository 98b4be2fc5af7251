using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Terrarium.Head.Jobs;
using Terrarium.Protocol;

namespace Terrarium.Head.Http;

/// <summary>
/// Submitted jobs over HTTP, shaped after Ray's job submission API: <c>POST /api/jobs/</c>,
/// <c>GET /api/jobs/</c>, <c>GET /api/jobs/{id}</c>, <c>GET /api/jobs/{id}/logs</c>,
/// <c>GET /api/jobs/{id}/logs/tail</c> (the output as it comes, until the job ends),
/// <c>POST /api/jobs/{id}/stop</c> and <c>DELETE /api/jobs/{id}</c>. Errors are
/// <c>{"error": "…"}</c> with 400 (bad request), 404 (unknown id) or 409 (conflict).
/// </summary>
internal static class JobsApi
{
    private static readonly string[] s_submitKeys = ["entrypoint", "submission_id", "runtime_env", "metadata"];

    public static void Map(IEndpointRouteBuilder app)
    {
        var jobs = app.MapGroup("/api/jobs").WithTags("jobs");
        jobs.MapPost("/", SubmitAsync)
            .Accepts<SubmitBody>("application/json").Produces<SubmitReply>().Produces<ErrorReply>(400).Produces<ErrorReply>(409)
            .WithSummary("Submit a job: a node runs its entrypoint as the job's driver");
        jobs.MapGet("/", ([FromServices] JobSubmissions submissions) => Results.Json(submissions.List().Select(JobDetails.From).ToList()))
            .Produces<List<JobDetails>>().WithSummary("Every submitted job, oldest first");
        jobs.MapGet("/{submissionId}", (string submissionId, [FromServices] JobSubmissions submissions) => Known(() => Results.Json(JobDetails.From(submissions.Get(submissionId)))))
            .Produces<JobDetails>().Produces<ErrorReply>(404).WithSummary("A job's state, times, entrypoint and runtime env");
        jobs.MapGet("/{submissionId}/logs", LogsAsync)
            .Produces<LogsReply>().Produces<ErrorReply>(404).WithSummary("The job's output, as much of it as the head keeps");
        jobs.MapGet("/{submissionId}/logs/tail", TailAsync)
            .Produces<string>(200, "text/plain").Produces<ErrorReply>(404).WithSummary("The job's output as it comes, until the job ends");
        jobs.MapPost("/{submissionId}/stop", StopAsync)
            .Produces<StopReply>().Produces<ErrorReply>(404).WithSummary("Stop a job: its driver gets SIGTERM, then SIGKILL 10 s later");
        jobs.MapDelete("/{submissionId}", DeleteAsync)
            .Produces<DeleteReply>().Produces<ErrorReply>(404).Produces<ErrorReply>(409).WithSummary("Forget an ended job and its output");
    }

    /// <summary>The body of <c>POST /api/jobs/</c>.</summary>
    /// <param name="Entrypoint">A shell command (run with <c>/bin/sh -c</c>, as Ray does), or a program and its arguments as an array.</param>
    /// <param name="SubmissionId">The job's id; one is drawn when none is given.</param>
    /// <param name="RuntimeEnv">The job's runtime env; its <c>working_dir</c> must be a URI (<c>pkg://</c> of a package in the head's store, <c>https://</c>).</param>
    /// <param name="Metadata">Strings kept with the job.</param>
    internal sealed record SubmitBody(JsonElement Entrypoint, string? SubmissionId, JsonElement? RuntimeEnv, Dictionary<string, string>? Metadata);

    internal sealed record SubmitReply(string SubmissionId);

    internal sealed record LogsReply(string Logs);

    internal sealed record StopReply(bool Stopped, string Status);

    internal sealed record DeleteReply(bool Deleted);

    internal sealed record ErrorReply(string Error);

    private static async Task<IResult> SubmitAsync(HttpRequest request, [FromServices] JobSubmissions submissions)
    {
        SubmitJobRequest submit;
        try
        {
            submit = await ReadSubmitAsync(request).ConfigureAwait(false);
        }
        catch (Exception e) when (e is JsonException or FormatException or ArgumentException)
        {
            return Error(400, e.Message);
        }

        try
        {
            var job = await submissions.SubmitAsync(submit).ConfigureAwait(false);
            return Results.Json(new SubmitReply(job.SubmissionId));
        }
        catch (ArgumentException e)
        {
            return Error(400, e.Message);
        }
        catch (InvalidOperationException e)
        {
            return Error(409, e.Message);
        }
    }

    /// <summary>The body as the head's submission, every mistake named.</summary>
    private static async Task<SubmitJobRequest> ReadSubmitAsync(HttpRequest request)
    {
        using var document = await JsonDocument.ParseAsync(request.Body).ConfigureAwait(false);
        var body = document.RootElement;
        if (body.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("the body must be a JSON object with an 'entrypoint'");
        }

        if (body.EnumerateObject().Select(p => p.Name).FirstOrDefault(name => !s_submitKeys.Contains(name)) is { } unknown)
        {
            throw new FormatException($"unknown key '{unknown}' (known: {string.Join(", ", s_submitKeys)})");
        }

        var submit = new SubmitJobRequest();
        submit.Entrypoint.AddRange(body.TryGetProperty("entrypoint", out var entrypoint) ? entrypoint.ValueKind switch
        {
            JsonValueKind.String => ["/bin/sh", "-c", entrypoint.GetString()!],
            JsonValueKind.Array when entrypoint.EnumerateArray().All(a => a.ValueKind == JsonValueKind.String) => entrypoint.EnumerateArray().Select(a => a.GetString()!),
            _ => throw new FormatException("'entrypoint' must be a shell command (a string) or a program and its arguments (an array of strings)"),
        } : throw new FormatException("a job needs an 'entrypoint'"));
        if (body.TryGetProperty("submission_id", out var id) && id.ValueKind != JsonValueKind.Null)
        {
            submit.SubmissionId = id.ValueKind == JsonValueKind.String ? id.GetString()! : throw new FormatException("'submission_id' must be a string");
        }

        if (body.TryGetProperty("runtime_env", out var env) && env.ValueKind != JsonValueKind.Null)
        {
            submit.RuntimeEnv = env.ValueKind == JsonValueKind.Object ? RuntimeEnv.FromJson(env.GetRawText()).ToJson() : throw new FormatException("'runtime_env' must be an object");
        }

        if (body.TryGetProperty("metadata", out var metadata) && metadata.ValueKind != JsonValueKind.Null)
        {
            foreach (var pair in metadata.ValueKind == JsonValueKind.Object ? metadata.EnumerateObject() : throw new FormatException("'metadata' must be an object of strings"))
            {
                submit.Metadata[pair.Name] = pair.Value.ValueKind == JsonValueKind.String ? pair.Value.GetString()! : throw new FormatException($"metadata '{pair.Name}' must be a string");
            }
        }

        return submit;
    }

    private static async Task<IResult> LogsAsync(string submissionId, [FromServices] JobSubmissions submissions, CancellationToken ct)
    {
        if (!Exists(submissions, submissionId))
        {
            return UnknownJob(submissionId);
        }

        // Decoded whole: a character may straddle two chunks.
        using var bytes = new MemoryStream();
        await foreach (var chunk in submissions.TailAsync(submissionId, 0, follow: false, ct).ConfigureAwait(false))
        {
            chunk.Data.WriteTo(bytes);
        }

        return Results.Json(new LogsReply(Encoding.UTF8.GetString(bytes.GetBuffer(), 0, (int)bytes.Length)));
    }

    private static async Task TailAsync(string submissionId, [FromServices] JobSubmissions submissions, HttpResponse response, CancellationToken ct)
    {
        if (!Exists(submissions, submissionId))
        {
            await UnknownJob(submissionId).ExecuteAsync(response.HttpContext).ConfigureAwait(false);
            return;
        }

        response.ContentType = "text/plain; charset=utf-8";
        await foreach (var chunk in submissions.TailAsync(submissionId, 0, follow: true, ct).ConfigureAwait(false))
        {
            await response.Body.WriteAsync(chunk.Data.Memory, ct).ConfigureAwait(false);
            await response.Body.FlushAsync(ct).ConfigureAwait(false);
        }
    }

    private static async Task<IResult> StopAsync(string submissionId, [FromServices] JobSubmissions submissions)
    {
        try
        {
            var job = await submissions.StopAsync(submissionId).ConfigureAwait(false);
            return Results.Json(new StopReply(job.StopRequested, job.State));
        }
        catch (KeyNotFoundException e)
        {
            return Error(404, e.Message);
        }
    }

    private static async Task<IResult> DeleteAsync(string submissionId, [FromServices] JobSubmissions submissions)
    {
        try
        {
            await submissions.DeleteAsync(submissionId).ConfigureAwait(false);
            return Results.Json(new DeleteReply(true));
        }
        catch (KeyNotFoundException e)
        {
            return Error(404, e.Message);
        }
        catch (InvalidOperationException e)
        {
            return Error(409, e.Message);
        }
    }

    private static bool Exists(JobSubmissions submissions, string submissionId)
    {
        try
        {
            submissions.Get(submissionId);
            return true;
        }
        catch (KeyNotFoundException)
        {
            return false;
        }
    }

    private static IResult Known(Func<IResult> answer)
    {
        try
        {
            return answer();
        }
        catch (KeyNotFoundException e)
        {
            return Error(404, e.Message);
        }
    }

    private static IResult UnknownJob(string submissionId) => Error(404, $"no job has submission id '{submissionId}' (GET /api/jobs/ lists them)");

    private static IResult Error(int status, string message) => Results.Json(new ErrorReply(message), statusCode: status);
}
