using Microsoft.Extensions.Time.Testing;
using Terrarium.Head;
using Terrarium.Head.State;
using Terrarium.Protocol;

namespace Terrarium.Tests.Head.State;

/// <summary>Membership on the head's clock: a node is dead once silent for the death timeout, and can come back.</summary>
public sealed class HeadStateTests
{
    private readonly FakeTimeProvider _clock = new();
    private readonly HeadState _state;

    public HeadStateTests() => _state = new HeadState(new HeadOptions { NodeDeathTimeout = TimeSpan.FromSeconds(10), TimeProvider = _clock });

    [Fact]
    public void Node_HeardFromWithinTheTimeout_StaysAlive()
    {
        _state.RegisterNode(Node("a"));

        for (var i = 0; i < 5; i++)
        {
            _clock.Advance(TimeSpan.FromSeconds(9));
            Assert.True(_state.Heartbeat("a", new Dictionary<string, double> { ["CPU"] = i }, []));
        }

        var listed = Assert.Single(_state.ListNodes());
        Assert.True(listed.Alive);
        Assert.Equal(4, listed.Available["CPU"]);
    }

    [Fact]
    public void Node_SilentForTheTimeout_IsDead_AndMustRegisterAgain()
    {
        _state.RegisterNode(Node("a"));
        _state.RegisterNode(Node("b"));
        _clock.Advance(TimeSpan.FromSeconds(6));
        _state.Heartbeat("b", new Dictionary<string, double>(), []);
        _clock.Advance(TimeSpan.FromSeconds(4));

        Assert.False(_state.ListNodes().Single(n => n.Node.NodeId == "a").Alive);
        Assert.True(_state.ListNodes().Single(n => n.Node.NodeId == "b").Alive);
        Assert.False(_state.Heartbeat("a", new Dictionary<string, double>(), []));

        _state.RegisterNode(Node("a"));
        Assert.True(_state.ListNodes().Single(n => n.Node.NodeId == "a").Alive);
    }

    [Fact]
    public void RestoredNode_IsNotAliveUntilItRegisters_ListedRestoredUntilTheTimeout_ThenForgottenAfterTheRetention()
    {
        _state.Restore(StoredHeadState.Empty with { Nodes = [Node("back"), Node("gone")] });

        Assert.All(_state.ListNodes(), n => Assert.True(!n.Alive && n.Restored));
        Assert.False(_state.Heartbeat("back", new Dictionary<string, double>(), []));
        _state.RegisterNode(Node("back"));
        _clock.Advance(TimeSpan.FromSeconds(9));
        _state.Heartbeat("back", new Dictionary<string, double>(), []);
        _clock.Advance(TimeSpan.FromSeconds(1));

        var gone = _state.ListNodes().Single(n => n.Node.NodeId == "gone");
        Assert.False(gone.Alive || gone.Restored);
        Assert.True(_state.ListNodes().Single(n => n.Node.NodeId == "back").Alive);
        Assert.Empty(_state.ForgetLongDeadNodes().Nodes);

        // 30 × the death timeout after the restore (the default retention), without a word from it.
        for (var second = 10; second < 300; second += 5)
        {
            _clock.Advance(TimeSpan.FromSeconds(5));
            _state.Heartbeat("back", new Dictionary<string, double>(), []);
        }

        Assert.Equal(["gone"], _state.ForgetLongDeadNodes().Nodes);
        Assert.Equal(["back"], _state.ListNodes().Select(n => n.Node.NodeId));
    }

    [Fact]
    public void UnknownNode_HeartbeatIsAnsweredUnknown()
    {
        Assert.False(_state.Heartbeat("never-registered", new Dictionary<string, double>(), []));
    }

    [Fact]
    public void MovedActor_IsFoundByItsId_UntilItsJobFinishes()
    {
        var job = _state.RegisterJob("driver", "");
        var other = _state.RegisterJob("driver", "");
        _state.RecordActorMoved(new RecordActorMovedRequest { ActorId = $"{job}/actor-1", NodeId = "b", ClassName = "Counter" });
        _state.RecordActorMoved(new RecordActorMovedRequest { ActorId = $"{other}/actor-1", NodeId = "c", ClassName = "Counter" });

        var found = _state.LookupMovedActor($"{job}/actor-1");
        Assert.True(found.Found);
        Assert.Equal("b", found.NodeId);
        Assert.False(_state.LookupMovedActor($"{job}/actor-2").Found);

        var (_, moved) = _state.FinishJob(job);

        Assert.Equal([$"{job}/actor-1"], moved);
        Assert.False(_state.LookupMovedActor($"{job}/actor-1").Found);
        Assert.True(_state.LookupMovedActor($"{other}/actor-1").Found);
    }

    [Fact]
    public void DetachedActors_KeepTheirNamesAndMoves_PastTheirJob_UntilTheirNodeIsForgotten()
    {
        var job = _state.RegisterJob("driver", "");
        var running = _state.RegisterJob("driver", "");
        _state.RegisterNode(Node("a"));
        _state.RegisterNode(Node("b"));
        Register("ordinary", $"{job}/actor-1", "a", detached: false);
        Register("kept", $"{job}/actor-2", "a", detached: true);
        Register("elsewhere", $"{job}/actor-3", "b", detached: true);
        Register("running-job", $"{running}/actor-1", "a", detached: true);
        _state.RecordActorMoved(new RecordActorMovedRequest { ActorId = $"{job}/actor-2", NodeId = "a", ClassName = "Counter", Detached = true });

        var (names, moved) = _state.FinishJob(job);

        Assert.Equal(["ordinary"], names);
        Assert.Empty(moved);
        Assert.True(_state.LookupActor("kept").Found);
        Assert.True(_state.LookupMovedActor($"{job}/actor-2").Found);

        // Node a goes silent for good: the detached names of ended jobs there go with it.
        for (var second = 0; second < 300; second += 5)
        {
            _clock.Advance(TimeSpan.FromSeconds(5));
            _state.Heartbeat("b", new Dictionary<string, double>(), []);
        }

        var (nodes, freed, dropped) = _state.ForgetLongDeadNodes();
        Assert.Equal(["a"], nodes);
        Assert.Equal(["kept"], freed);
        Assert.Equal([$"{job}/actor-2"], dropped);
        Assert.True(_state.LookupActor("elsewhere").Found);
        Assert.True(_state.LookupActor("running-job").Found);

        // A job still running when its detached actor's node was forgotten frees the name as it ends.
        Assert.Equal(["running-job"], _state.FinishJob(running).Names);

        void Register(string name, string actorId, string nodeId, bool detached) =>
            Assert.True(_state.TryRegisterActorName(new RegisterActorNameRequest { Name = name, ActorId = actorId, NodeId = nodeId, ClassName = "Counter", Detached = detached }));
    }

    [Fact]
    public void RestoredHead_KnowsWhereMovedActorsAre()
    {
        var moved = new LookupActorReply { Found = true, ActorId = "job-0001-abcdef/actor-1", NodeId = "b", ClassName = "Counter" };

        _state.Restore(StoredHeadState.Empty with { MovedActors = [moved] });

        Assert.Equal("b", _state.LookupMovedActor(moved.ActorId).NodeId);
    }

    private static NodeInfo Node(string id)
    {
        var node = new NodeInfo { NodeId = id, Address = id + ":1" };
        node.Resources["CPU"] = 4;
        return node;
    }
}
