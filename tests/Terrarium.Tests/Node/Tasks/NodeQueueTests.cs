using Microsoft.Extensions.Time.Testing;
using Terrarium.Node.Resources;
using Terrarium.Node.RuntimeEnvs;
using Terrarium.Node.Sessions;
using Terrarium.Node.Tasks;
using Terrarium.Node.Workers;
using Terrarium.Protocol;

namespace Terrarium.Tests.Node.Tasks;

/// <summary>The node's waiting tasks and idle workers, on their own and on a fake clock.</summary>
public sealed class NodeQueueTests
{
    private static readonly Session JobA = new("s1", new OpenSession { JobId = "job-a", JobCodeDir = "/" });
    private static readonly Session JobB = new("s2", new OpenSession { JobId = "job-b", JobCodeDir = "/" });
    private readonly FakeTimeProvider _clock = new();

    [Fact]
    public void Queues_StartTasksInOrderPerClass_AndABlockedClassDoesNotHoldUpAnother()
    {
        var queues = new TaskQueues();
        var big1 = Task("big1", JobA, cpus: 4);
        var big2 = Task("big2", JobA, cpus: 4);
        var small1 = Task("small1", JobA, cpus: 1);
        var small2 = Task("small2", JobA, cpus: 1);
        foreach (var task in new[] { big1, small1, big2, small2 })
        {
            queues.Add(task);
        }

        var started = new List<string>();
        queues.Drain(t =>
        {
            if (t.Demand.Amounts["CPU"] > 1)
            {
                return false;
            }

            started.Add(t.Spec.WorkId);
            return true;
        });

        Assert.Equal(["small1", "small2"], started);
        Assert.Equal(2, queues.Count);
        queues.Drain(t => { started.Add(t.Spec.WorkId); return true; });
        Assert.Equal(["small1", "small2", "big1", "big2"], started);
        Assert.Equal(0, queues.Count);
    }

    [Fact]
    public void Queues_RequeuedTaskGoesFirst_RemovedByIdOrJob()
    {
        var queues = new TaskQueues();
        queues.Add(Task("a1", JobA));
        queues.Add(Task("a2", JobA));
        queues.Add(Task("b1", JobB));
        queues.Requeue(Task("a0", JobA));

        Assert.Equal("a2", queues.Remove("a2")?.Spec.WorkId);
        Assert.Null(queues.Remove("a2"));
        queues.RemoveJob("job-b");
        var order = new List<string>();
        queues.Drain(t => { order.Add(t.Spec.WorkId); return true; });
        Assert.Equal(["a0", "a1"], order);
    }

    [Fact]
    public void IdleWorkers_LastIdleIsTakenFirst_PerPool()
    {
        var idle = new IdleWorkers();
        var first = Worker("w1", "job-a");
        var second = Worker("w2", "job-a");
        var other = Worker("w3", "job-b");
        idle.Add(first, _clock.GetUtcNow());
        idle.Add(second, _clock.GetUtcNow());
        idle.Add(other, _clock.GetUtcNow());

        Assert.True(idle.TryTake(first.PoolKey, out var taken));
        Assert.Same(second, taken);
        idle.Remove(first);
        Assert.False(idle.Any(first.PoolKey));
        Assert.True(idle.Any(other.PoolKey));
    }

    [Fact]
    public void IdleWorkers_OnlyThoseIdlePastTheTimeoutExpire()
    {
        var idle = new IdleWorkers();
        var old = Worker("old", "job-a");
        var fresh = Worker("fresh", "job-a");
        idle.Add(old, _clock.GetUtcNow());
        _clock.Advance(TimeSpan.FromSeconds(20));
        idle.Add(fresh, _clock.GetUtcNow());
        _clock.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal([old], idle.TakeExpired(_clock.GetUtcNow(), TimeSpan.FromSeconds(30)));
        Assert.Empty(idle.TakeExpired(_clock.GetUtcNow(), TimeSpan.FromSeconds(30)));
        Assert.True(idle.TryTake(fresh.PoolKey, out var left));
        Assert.Same(fresh, left);
        Assert.Equal(WorkerState.Idle, fresh.State);
    }

    private static TaskRecord Task(string id, Session owner, double cpus = 1)
    {
        var spec = new SubmitTask { WorkId = id, Resources = new ResourceRequest { NumCpus = cpus } };
        var task = new TaskRecord(spec, owner, ResourceSet.From(spec.Resources));
        task.SetEnv(PreparedEnv.None);
        return task;
    }

    private static WorkerProcess Worker(string id, string jobId) => new(id, jobId, JobCode.None, PreparedEnv.None, null, null);
}
