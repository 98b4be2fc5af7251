using ClusterWork;

namespace Terrarium.IntegrationTests;

/// <summary><see cref="Cluster.GetOrCreateActorAsync"/>: one actor, however many drivers ask for it at once.</summary>
public sealed class GetOrCreateActorTests
{
    [Fact]
    public async Task TwoDriversAskingAtOnce_GetOneActor_MadeOnce()
    {
        var token = "get-or-create-" + Guid.NewGuid().ToString("N");
        await using var first = await Cluster.InitAsync(new ClusterOptions { NumCpus = 2, LogToDriver = false, Token = token }).DefaultTimeout();
        await using var second = await Cluster.InitAsync(new ClusterOptions { Address = first.Address, Token = token, LogToDriver = false }).DefaultTimeout();
        var options = new ActorOptions { Name = "shared-counter" };

        var handles = await Task.WhenAll(Enumerable.Range(0, 16).Select(i =>
            Task.Run(() => (i % 2 == 0 ? first : second).GetOrCreateActorAsync(() => new NodeCounter(), options)))).DefaultTimeout();

        Assert.Single(handles.Select(h => h.ActorId).Distinct());
        var totals = await Task.WhenAll(handles.Select(h => h.Call(c => c.Add(1)).GetAsync())).DefaultTimeout();
        Assert.Equal(16, totals.Max());
    }

    [Fact]
    public async Task WithoutAName_OrForAnActorOfAnotherClass_IsRefusedSayingWhy()
    {
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 1, LogToDriver = false }).DefaultTimeout();
        cluster.CreateActor(() => new MeetingPoint(1), new ActorOptions { Name = "meeting" });

        var unnamed = await Assert.ThrowsAsync<ArgumentException>(() => cluster.GetOrCreateActorAsync(() => new NodeCounter(), new ActorOptions()));
        var otherClass = await Assert.ThrowsAsync<ArgumentException>(() => cluster.GetOrCreateActorAsync(() => new NodeCounter(), new ActorOptions { Name = "meeting" }));

        Assert.Contains("needs options.Name", unnamed.Message, StringComparison.Ordinal);
        Assert.Contains("is a Terrarium.IntegrationTests.MeetingPoint, not a ClusterWork.NodeCounter", otherClass.Message, StringComparison.Ordinal);
    }
}
