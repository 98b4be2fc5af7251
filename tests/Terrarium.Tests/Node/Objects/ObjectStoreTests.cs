using Google.Protobuf;
using Terrarium.Node.Objects;
using Terrarium.Node.Sessions;
using Terrarium.Protocol;

namespace Terrarium.Tests.Node.Objects;

/// <summary>The node's objects: who may complete, fulfil or put each one, and what releasing leaves alone.</summary>
public sealed class ObjectStoreTests
{
    private static readonly Session Driver = new("s1", new OpenSession { JobId = "job-a", JobCodeDir = "/" });
    private static readonly Session Other = new("s2", new OpenSession { JobId = "job-b", JobCodeDir = "/" });
    private readonly ObjectStore _store = new();

    private static ObjectResult Value(string text) => new(ByteString.CopyFromUtf8(text), null);

    [Fact]
    public async Task TaskResult_IsCompletedOnce_AndAnIdIsNeverUsedTwice()
    {
        Assert.True(_store.TryCreate("t1", Driver));
        Assert.False(_store.TryCreate("t1", Other));

        _store.Complete("t1", Value("first"));
        _store.Complete("t1", Value("second"));

        Assert.Equal("first", (await _store.Find("t1")!).Value!.ToStringUtf8());
    }

    [Fact]
    public async Task Promise_IsFulfilledOrPutOnlyByItsOwner()
    {
        Assert.True(_store.TryPromise("c1", Driver));

        Assert.False(_store.TryFulfil("c1", Other, Value("not yours")));
        Assert.False(_store.TryPut("c1", Other, Value("not yours either")));
        Assert.True(_store.TryFulfil("c1", Driver, Value("mine")));
        Assert.False(_store.TryPut("c1", Driver, Value("too late")));

        Assert.Equal("mine", (await _store.Find("c1")!).Value!.ToStringUtf8());
    }

    [Fact]
    public void PromiseCopy_KeepsTheOwnersOpenPromise_ButNotAFulfilledOneOrAnotherOwners()
    {
        Assert.True(_store.TryPromiseCopy("fresh", Driver));
        Assert.True(_store.TryPromise("open", Driver));
        Assert.True(_store.TryPromiseCopy("open", Driver));
        Assert.False(_store.TryPromiseCopy("open", Other));
        _store.Fulfil("open", Value("arrived"));
        Assert.False(_store.TryPromiseCopy("open", Driver));
    }

    [Fact]
    public async Task Release_LeavesAWaitingDependentItsValue_AndLaterFulfilsDoNothing()
    {
        Assert.True(_store.TryPut("p1", Driver, Value("put")));
        var dependent = _store.Find("p1")!;
        Assert.True(_store.TryPromise("p2", Driver));

        _store.Release("p1");
        _store.Release("p2");
        _store.Fulfil("p2", Value("after the release"));

        Assert.Equal("put", (await dependent).Value!.ToStringUtf8());
        Assert.Null(_store.Find("p1"));
        Assert.Null(_store.Find("p2"));
    }

    [Fact]
    public void ReleaseOwnedBy_DropsOnlyThatSessionsObjects_AndBytesCountOnlyValues()
    {
        _store.TryPut("mine", Driver, Value("12345"));
        _store.TryPut("theirs", Other, Value("123"));
        _store.TryCreate("pending", Other);
        _store.TryPut("failed", Other, ObjectResult.Failed(new TaskError { Message = "boom" }));

        Assert.Equal(8, _store.Bytes);
        _store.ReleaseOwnedBy(Driver);

        Assert.Null(_store.Find("mine"));
        Assert.Equal(3, _store.Count);
        Assert.Equal(3, _store.Bytes);
    }

    [Fact]
    public async Task ReleaseOwnedBy_AnObjectNotMadeYet_FailsAsLostForWhatWaitsForIt()
    {
        _store.TryCreate("pending", Driver);
        var waiting = _store.Find("pending")!;

        _store.ReleaseOwnedBy(Driver);

        var lost = await waiting.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(ErrorKind.ObjectLost, lost.Error!.Kind);
        Assert.Equal("object pending is lost: the session that owned it ended", lost.Error.Message);
        Assert.Null(_store.Find("pending"));
    }
}
