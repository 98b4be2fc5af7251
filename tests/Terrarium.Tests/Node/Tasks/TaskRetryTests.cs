using Terrarium.Node.Resources;
using Terrarium.Node.Sessions;
using Terrarium.Node.Tasks;
using Terrarium.Protocol;

namespace Terrarium.Tests.Node.Tasks;

/// <summary>When a task runs again: retries are counted, bounded, opted into for exceptions, and never for a cancelled task.</summary>
public sealed class TaskRetryTests
{
    private static readonly Session Owner = new("s1", new OpenSession { JobId = "job-a", JobCodeDir = "/" });

    [Fact]
    public void Crash_IsRetriedUpToMaxRetries()
    {
        var task = Task(maxRetries: 2);

        Assert.True(task.RetryAfterCrash());
        Assert.True(task.RetryAfterCrash());
        Assert.False(task.RetryAfterCrash());
        Assert.Equal(2, task.CrashCount);
    }

    [Fact]
    public void Exception_IsRetriedOnlyWhenAskedFor()
    {
        var thrown = new TaskError { Kind = ErrorKind.Application, Message = "boom" };

        Assert.False(Task(maxRetries: 3).RetryAfterException(thrown));

        var retrying = Task(maxRetries: 1, retryExceptions: true);
        Assert.True(retrying.RetryAfterException(thrown));
        Assert.False(retrying.RetryAfterException(thrown));
        Assert.Equal(1, retrying.ExceptionCount);
    }

    [Fact]
    public void ErrorThatIsNotTheTasksOwn_IsNotRetriedAsAnException()
    {
        var task = Task(maxRetries: 3, retryExceptions: true);

        Assert.False(task.RetryAfterException(new TaskError { Kind = ErrorKind.WorkerCrashed }));
        Assert.Equal(0, task.ExceptionCount);
    }

    [Fact]
    public void CancelledTask_IsNeverRetried()
    {
        foreach (var cancellation in new[] { TaskCancellation.Requested, TaskCancellation.Forced, TaskCancellation.TimedOut })
        {
            var task = Task(maxRetries: 3, retryExceptions: true);
            task.Cancellation = cancellation;

            Assert.False(task.RetryAfterCrash(), cancellation.ToString());
            Assert.False(task.RetryAfterException(new TaskError { Kind = ErrorKind.Application }), cancellation.ToString());
        }
    }

    private static TaskRecord Task(int maxRetries, bool retryExceptions = false)
    {
        var spec = new SubmitTask { WorkId = "t1", MaxRetries = maxRetries, RetryExceptions = retryExceptions, Resources = new ResourceRequest { NumCpus = 1 } };
        return new TaskRecord(spec, Owner, ResourceSet.From(spec.Resources));
    }
}
