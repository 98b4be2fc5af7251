using Grpc.Core;
using Terrarium.Protocol;

namespace Terrarium.Head.Service;

/// <summary>Submitted jobs (<see cref="Jobs.JobSubmissions"/>): each failure is the status its cause calls for.</summary>
internal sealed partial class HeadService
{
    public override async Task<JobSubmission> SubmitJob(SubmitJobRequest request, ServerCallContext context)
    {
        try
        {
            return await submissions.SubmitAsync(request).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            throw Invalid(e.Message);
        }
        catch (InvalidOperationException e)
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists, e.Message));
        }
    }

    public override Task<JobSubmission> GetJob(GetJobRequest request, ServerCallContext context) =>
        Task.FromResult(Known(() => submissions.Get(request.SubmissionId)));

    public override Task<ListJobsReply> ListJobs(ListJobsRequest request, ServerCallContext context) =>
        Task.FromResult(new ListJobsReply { Jobs = { submissions.List() } });

    public override async Task<JobSubmission> StopJob(StopJobRequest request, ServerCallContext context)
    {
        try
        {
            return await submissions.StopAsync(request.SubmissionId).ConfigureAwait(false);
        }
        catch (KeyNotFoundException e)
        {
            throw NotFound(e);
        }
    }

    public override async Task<DeleteJobReply> DeleteJob(DeleteJobRequest request, ServerCallContext context)
    {
        try
        {
            await submissions.DeleteAsync(request.SubmissionId).ConfigureAwait(false);
            return new DeleteJobReply();
        }
        catch (KeyNotFoundException e)
        {
            throw NotFound(e);
        }
        catch (InvalidOperationException e)
        {
            throw new RpcException(new Status(StatusCode.FailedPrecondition, e.Message));
        }
    }

    public override async Task TailJobLogs(TailJobLogsRequest request, IServerStreamWriter<JobLogChunk> responseStream, ServerCallContext context)
    {
        Known(() => submissions.Get(request.SubmissionId));
        await foreach (var chunk in submissions.TailAsync(request.SubmissionId, Math.Max(0, request.Offset), request.Follow, context.CancellationToken).ConfigureAwait(false))
        {
            await responseStream.WriteAsync(chunk, context.CancellationToken).ConfigureAwait(false);
        }
    }

    public override async Task<AppendJobLogReply> AppendJobLog(AppendJobLogRequest request, ServerCallContext context)
    {
        try
        {
            return new AppendJobLogReply { Received = await submissions.AppendLogAsync(request).ConfigureAwait(false) };
        }
        catch (KeyNotFoundException e)
        {
            throw NotFound(e);
        }
        catch (ArgumentException e)
        {
            throw Invalid(e.Message);
        }
    }

    private static T Known<T>(Func<T> find)
    {
        try
        {
            return find();
        }
        catch (KeyNotFoundException e)
        {
            throw NotFound(e);
        }
    }

    private static RpcException NotFound(KeyNotFoundException e) => new(new Status(StatusCode.NotFound, e.Message));
}
