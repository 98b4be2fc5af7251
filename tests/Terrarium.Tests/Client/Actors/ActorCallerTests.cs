using System.Collections.Concurrent;
using Google.Protobuf;
using Terrarium.Actors;
using Terrarium.Protocol;
using Terrarium.Serialization;
using Terrarium.Sessions;
using Terrarium.Worker;

namespace Terrarium.Tests.Client.Actors;

/// <summary>
/// A caller's calls to one actor, with a real client session to a node that answers where the
/// actor is as each test says, and real actor workers' servers: order, arguments not ready yet,
/// cancels before sending, death, a worker that goes away, and calls held while the node is found.
/// </summary>
public sealed class ActorCallerTests : IAsyncLifetime
{
    private const string ActorId = "job/actor-1";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private static readonly FunctionDescriptor Method = new() { Type = "Counter", Method = "Add" };
    private readonly List<ActorServer> _workers = [];
    private ScriptedNode _node = null!;
    private Session _session = null!;

    public async Task InitializeAsync()
    {
        _node = await ScriptedNode.StartAsync();
        _session = await _node.OpenSessionAsync();
    }

    public async Task DisposeAsync()
    {
        await _session.DisposeAsync();
        foreach (var worker in _workers)
        {
            worker.CloseWithin(Task.Delay(TimeSpan.FromSeconds(5)));
        }

        await _node.DisposeAsync();
    }

    [Fact]
    public async Task Calls_MadeBeforeTheActorIsLocated_WaitHere_ThenRunInCallOrder()
    {
        var caller = _session.CallerOf(ActorId);
        var calls = Enumerable.Range(0, 20).Select(i => caller.Call(caller.NewCallId(), Method, [Value($"v{i}")])).ToList();

        var locate = await NextLocateAsync();
        Assert.Equal(ActorId, locate.ActorId);
        Assert.Equal(0, locate.AfterIncarnation);
        Assert.DoesNotContain(calls, c => c.Ready.IsCompleted);
        var (worker, ran) = StartWorker();
        await AnswerAsync(new ActorLocation { ActorId = ActorId, Incarnation = 1, Address = worker.Address });

        var results = await Task.WhenAll(calls.Select(c => c.Ready.WaitAsync(Patience)));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"v{i}"), results.Select(r => r.Value.ToStringUtf8()));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"v{i}"), ran);
    }

    [Fact]
    public async Task Call_WhoseRefIsNotReady_HoldsTheCallsBehindIt_UntilTheRefIsReady()
    {
        var caller = await LocatedCallerAsync(out var ran);
        var dependency = _session.OnlyHere("dep-1");

        var first = caller.Call(caller.NewCallId(), Method, [new CallArg(null, dependency)]);
        var second = caller.Call(caller.NewCallId(), Method, [Value("after")]);
        var third = caller.Call(caller.NewCallId(), Method, [Value("third")]);

        // Had the calls behind it gone ahead, the actor would have run them first.
        dependency.Complete(new ObjectReady { ObjectId = "dep-1", Value = ByteString.CopyFromUtf8("the-ref") });

        await Task.WhenAll(first.Ready, second.Ready, third.Ready).WaitAsync(Patience);
        Assert.Equal(["the-ref", "after", "third"], ran);
    }

    [Fact]
    public async Task CancelAsync_OfACallNotSentYet_FailsItWithoutRunning_AndTheCallsBehindItGo()
    {
        var caller = await LocatedCallerAsync(out var ran);
        var dependency = _session.OnlyHere("dep-2");
        var waiting = caller.Call(caller.NewCallId(), Method, [new CallArg(null, dependency)]);
        var behind = caller.Call(caller.NewCallId(), Method, [Value("behind")]);

        await caller.CancelAsync(waiting, CancellationToken.None);

        var cancelled = await waiting.Ready.WaitAsync(Patience);
        Assert.Equal(ErrorKind.Cancelled, cancelled.Error.Kind);
        Assert.Contains("was cancelled before it was sent to actor " + ActorId, cancelled.Error.Message, StringComparison.Ordinal);
        Assert.Equal("behind", (await behind.Ready.WaitAsync(Patience)).Value.ToStringUtf8());
        Assert.Equal(["behind"], ran);
    }

    [Fact]
    public async Task Located_AsDead_FailsTheWaitingCallsAndLaterOnes_WithTheDeath()
    {
        var caller = _session.CallerOf(ActorId);
        var waiting = caller.Call(caller.NewCallId(), Method, [Value("a")]);
        await NextLocateAsync();

        await AnswerAsync(new ActorLocation { ActorId = ActorId, Death = new TaskError { Kind = ErrorKind.ActorDied, Message = "killed by its owner" } });

        Assert.Equal("killed by its owner", (await waiting.Ready.WaitAsync(Patience)).Error.Message);
        var later = caller.Call(caller.NewCallId(), Method, [Value("b")]);
        Assert.Equal(ErrorKind.ActorDied, (await later.Ready.WaitAsync(Patience)).Error.Kind);
    }

    [Fact]
    public async Task Located_AtAnAddressThatIsNotOne_FailsTheCallsNamingIt()
    {
        var caller = _session.CallerOf(ActorId);
        var waiting = caller.Call(caller.NewCallId(), Method, [Value("a")]);
        await NextLocateAsync();

        await AnswerAsync(new ActorLocation { ActorId = ActorId, Incarnation = 1, Address = "not an address" });

        var failed = await waiting.Ready.WaitAsync(Patience);
        Assert.Equal(ErrorKind.ActorDied, failed.Error.Kind);
        Assert.Contains("'not an address'", failed.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WorkerGoesAway_TheCallerAsksForTheNextIncarnation_AndLaterCallsReachIt()
    {
        var caller = await LocatedCallerAsync(out _);
        Assert.Equal("one", (await caller.Call(caller.NewCallId(), Method, [Value("one")]).Ready.WaitAsync(Patience)).Value.ToStringUtf8());

        _workers[0].CloseWithin(Task.Delay(TimeSpan.FromSeconds(5)));
        var again = await NextLocateAsync();
        Assert.Equal(1, again.AfterIncarnation);
        var (next, ranOnNext) = StartWorker();
        await AnswerAsync(new ActorLocation { ActorId = ActorId, Incarnation = 2, Address = next.Address });

        var result = await caller.Call(caller.NewCallId(), Method, [Value("two")]).Ready.WaitAsync(Patience);
        Assert.Equal("two", result.Value.ToStringUtf8());
        Assert.Equal(["two"], ranOnNext);
    }

    [Fact]
    public async Task WhileFindingTheNode_CallsAreHeld_ThenGoToTheFoundCaller_AheadOfCallsMadeThere()
    {
        var finding = ActorCaller.WhileFindingNode(_session, ActorId, ScriptedNode.Credentials);
        var held = Enumerable.Range(0, 3).Select(i => finding.Call(finding.NewCallId(), Method, [Value($"held{i}")])).ToList();
        var found = _session.CallerOf(ActorId);
        var direct = found.Call(found.NewCallId(), Method, [Value("direct")]);
        await NextLocateAsync();

        finding.OnNodeFound(found);
        var forwarded = finding.Call(finding.NewCallId(), Method, [Value("forwarded")]);
        var (worker, ran) = StartWorker();
        await AnswerAsync(new ActorLocation { ActorId = ActorId, Incarnation = 1, Address = worker.Address });

        await Task.WhenAll(held.Append(direct).Append(forwarded).Select(c => c.Ready)).WaitAsync(Patience);
        Assert.Equal(["held0", "held1", "held2", "direct", "forwarded"], ran);
        Assert.Same(found, forwarded.Caller);
    }

    [Fact]
    public async Task WhileFindingTheNode_NotFound_FailsTheHeldCallsAndLaterOnes_AndAsksNoNode()
    {
        var finding = ActorCaller.WhileFindingNode(_session, ActorId, ScriptedNode.Credentials);
        var held = finding.Call(finding.NewCallId(), Method, [Value("held")]);
        var gone = new TaskError { Kind = ErrorKind.ActorDied, Message = "its node is gone" };

        finding.OnNodeNotFound(gone);

        Assert.Equal("its node is gone", (await held.Ready.WaitAsync(Patience)).Error.Message);
        Assert.Equal("its node is gone", (await finding.Call(finding.NewCallId(), Method, [Value("later")]).Ready.WaitAsync(Patience)).Error.Message);
        Assert.False(_node.Locates.TryRead(out _));
    }

    private static CallArg Value(string text) => new(ByteString.CopyFromUtf8(text), null);

    private Task<ActorCaller> LocatedCallerAsync(out ConcurrentQueue<string> ran)
    {
        var (worker, runs) = StartWorker();
        ran = runs;
        return LocateAsync(worker);
    }

    private async Task<ActorCaller> LocateAsync(ActorServer worker)
    {
        var caller = _session.CallerOf(ActorId);
        caller.Pump();
        await NextLocateAsync();
        await AnswerAsync(new ActorLocation { ActorId = ActorId, Incarnation = 1, Address = worker.Address });
        return caller;
    }

    /// <summary>A real actor worker's server whose actor answers each call with its first argument, recording it.</summary>
    private (ActorServer Worker, ConcurrentQueue<string> Ran) StartWorker()
    {
        var ran = new ConcurrentQueue<string>();
        var socket = Path.Combine(Path.GetTempPath(), $"a-{Guid.NewGuid():N}"[..14] + ".sock");
        var worker = ActorServer.Start(ActorId, "unix:" + socket, ScriptedNode.Credentials, call =>
        {
            ran.Enqueue(call.Args[0].ToStringUtf8());
            return Task.FromResult(new WorkDone { WorkId = call.WorkId, Value = call.Args[0] });
        }, _ => { });
        _workers.Add(worker);
        return (worker, ran);
    }

    private async Task<LocateActor> NextLocateAsync() => await _node.Locates.ReadAsync().AsTask().WaitAsync(Patience);

    private async Task AnswerAsync(ActorLocation location) => await _node.Answers.WriteAsync(location);
}
