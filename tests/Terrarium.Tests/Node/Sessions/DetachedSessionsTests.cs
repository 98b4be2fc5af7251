using Microsoft.Extensions.Time.Testing;
using Terrarium.Node;
using Terrarium.Node.Sessions;
using Terrarium.Protocol;

namespace Terrarium.Tests.Node.Sessions;

/// <summary>A session whose stream broke is kept for the grace period, on the node's clock, and only its own client resumes it.</summary>
public sealed class DetachedSessionsTests
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _clock = new();
    private readonly DetachedSessions _sessions;
    private readonly List<Session> _ended = [];

    public DetachedSessionsTests() => _sessions = new DetachedSessions(new NodeOptions { TimeProvider = _clock, SessionResumeGrace = Grace });

    [Fact]
    public void Detached_ResumedWithinTheGrace_IsTheSameSession_AndNeverEnds()
    {
        var session = Session("s1", "job-a");
        _sessions.Detach(session, _ended.Add);

        _clock.Advance(Grace - TimeSpan.FromSeconds(1));
        var resumed = _sessions.TryResume("s1", "job-a", "");
        _clock.Advance(Grace * 2);

        Assert.Same(session, resumed);
        Assert.Empty(_ended);
    }

    [Fact]
    public void Detached_NotResumed_EndsOnceTheGraceHasPassed()
    {
        var session = Session("s1", "job-a");
        _sessions.Detach(session, _ended.Add);

        _clock.Advance(Grace - TimeSpan.FromSeconds(1));
        Assert.Empty(_ended);
        _clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Same(session, Assert.Single(_ended));
        Assert.Null(_sessions.TryResume("s1", "job-a", ""));
    }

    [Fact]
    public void Resume_ByAnotherJobOrWorker_IsRefused()
    {
        _sessions.Detach(Session("s1", "job-a"), _ended.Add);

        Assert.Null(_sessions.TryResume("s1", "job-b", ""));
        Assert.Null(_sessions.TryResume("s1", "job-a", "worker-1"));
        Assert.NotNull(_sessions.TryResume("s1", "job-a", ""));
    }

    [Fact]
    public void NodeStopping_KeepsNothing()
    {
        _sessions.Dispose();

        Assert.False(_sessions.Detach(Session("s1", "job-a"), _ended.Add));
        Assert.Null(_sessions.TryResume("s1", "job-a", ""));
    }

    private static Session Session(string id, string jobId) => new(id, new OpenSession { JobId = jobId, JobCodeDir = "/" });
}
