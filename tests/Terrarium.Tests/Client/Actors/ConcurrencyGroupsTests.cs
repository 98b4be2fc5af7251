using Terrarium.Actors;
using Terrarium.Worker;

namespace Terrarium.Tests.Client.Actors;

/// <summary>How an actor class's concurrency groups are read and checked, and how a group's turns are taken.</summary>
public sealed class ConcurrencyGroupsTests
{
    [Fact]
    public void Groups_AreTheDeclaredOnes_AndEachMethodsGroup_DefaultForMethodsNamingNone()
    {
        var groups = ConcurrencyGroups.Of(typeof(TwoGroups));

        Assert.Equal(new Dictionary<string, int> { ["default"] = 3, ["io"] = 4, ["cpu"] = 1 }, groups.Sizes(maxConcurrency: 3));
        Assert.Equal("io", groups.GroupOf(typeof(TwoGroups).GetMethod(nameof(TwoGroups.Read))!));
        Assert.Equal("default", groups.GroupOf(typeof(TwoGroups).GetMethod(nameof(TwoGroups.Plain))!));
        Assert.Null(groups.RefuseGroup("cpu"));
        Assert.Null(groups.RefuseGroup("default"));
    }

    [Fact]
    public void ADerivedClass_HasItsBasesGroups_AndMayRepeatThem()
    {
        var groups = ConcurrencyGroups.Of(typeof(DerivedRepeatingItsBase));

        Assert.Equal(new Dictionary<string, int> { ["default"] = 1, ["io"] = 4, ["cpu"] = 1 }, groups.Sizes(maxConcurrency: 1));
        Assert.Equal("io", groups.GroupOf(typeof(DerivedRepeatingItsBase).GetMethod(nameof(TwoGroups.Read))!));
    }

    [Fact]
    public void ACallThroughAnInterfaceOrABaseClass_RunsInTheGroupOfTheClasssImplementation()
    {
        var groups = ConcurrencyGroups.Of(typeof(ImplementsInAGroup));

        Assert.Equal("io", groups.GroupOf(typeof(IReads).GetMethod(nameof(IReads.Read))!));
        Assert.Equal("io", groups.GroupOf(typeof(PlainBase).GetMethod(nameof(PlainBase.Write))!));
        Assert.Equal("default", groups.GroupOf(typeof(PlainBase).GetMethod(nameof(PlainBase.Plain))!));
    }

    [Theory]
    [InlineData(typeof(NegativeSize), "gives concurrency group 'io' size -1; a group runs 1 or more calls at once")]
    [InlineData(typeof(Twice), "declares concurrency group 'io' twice")]
    [InlineData(typeof(NamedDefault), "declares concurrency group 'default', the name of the group of methods that name none")]
    [InlineData(typeof(Unnamed), "declares a concurrency group without a name")]
    [InlineData(typeof(SizeOnAMethod), "SizeOnAMethod.Work gives concurrency group 'io' a size; the class declares it")]
    [InlineData(typeof(TwoGroupsForAMethod), "TwoGroupsForAMethod.Work names 2 concurrency groups; a method runs in one")]
    [InlineData(typeof(PrivateMethodInUnknownGroup), "PrivateMethodInUnknownGroup.Hidden: actor class")]
    public void AMistake_IsAnArgumentException_SayingWhat(Type actorType, string expected)
    {
        var error = Assert.Throws<ArgumentException>(() => ConcurrencyGroups.Of(actorType));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ATurnQueue_RunsUpToItsSize_AndStartsTheWaitingInTheOrderTheyCame()
    {
        var queue = new TurnQueue(2);
        var gates = Enumerable.Range(0, 5).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToList();
        var started = new List<int>();
        using var aStart = new SemaphoreSlim(0);
        for (var i = 0; i < gates.Count; i++)
        {
            var index = i;
            queue.Run(() =>
            {
                lock (started)
                {
                    started.Add(index);
                }

                aStart.Release();
                return index == 3 ? throw new InvalidOperationException("a work that throws keeps no turn") : gates[index].Task;
            });
        }

        Assert.Equal([0, 1], await StartedAsync(2));
        gates[1].SetResult();
        Assert.Equal([0, 1, 2], await StartedAsync(1));
        // 3 throws at once: its turn goes straight to 4.
        gates[0].SetResult();
        Assert.Equal([0, 1, 2, 3, 4], await StartedAsync(2));

        async Task<List<int>> StartedAsync(int more)
        {
            for (var i = 0; i < more; i++)
            {
                Assert.True(await aStart.WaitAsync(TimeSpan.FromSeconds(30)), "a work that should have started did not");
            }

            lock (started)
            {
                return [.. started];
            }
        }
    }
}

[ConcurrencyGroup("io", 4)]
[ConcurrencyGroup("cpu", 1)]
internal class TwoGroups
{
    [ConcurrencyGroup("io")]
    public virtual int Read() => 1;

    public int Plain() => 2;
}

[ConcurrencyGroup("io", 4)]
internal sealed class DerivedRepeatingItsBase : TwoGroups
{
    [ConcurrencyGroup("io")]
    public override int Read() => 3;
}

internal interface IReads
{
    int Read();
}

internal class PlainBase
{
    public virtual int Write() => 0;

    public int Plain() => 0;
}

[ConcurrencyGroup("io", 2)]
internal sealed class ImplementsInAGroup : PlainBase, IReads
{
    [ConcurrencyGroup("io")]
    public int Read() => 1;

    [ConcurrencyGroup("io")]
    public override int Write() => 2;
}

[ConcurrencyGroup("io", -1)]
internal sealed class NegativeSize;

[ConcurrencyGroup("io", 1)]
[ConcurrencyGroup("io", 2)]
internal sealed class Twice;

[ConcurrencyGroup("default", 2)]
internal sealed class NamedDefault;

[ConcurrencyGroup(" ", 2)]
internal sealed class Unnamed;

[ConcurrencyGroup("io", 2)]
internal sealed class SizeOnAMethod
{
    [ConcurrencyGroup("io", 2)]
    public int Work() => 1;
}

[ConcurrencyGroup("io", 2)]
[ConcurrencyGroup("cpu", 2)]
internal sealed class TwoGroupsForAMethod
{
    [ConcurrencyGroup("io")]
    [ConcurrencyGroup("cpu")]
    public int Work() => 1;
}

internal sealed class PrivateMethodInUnknownGroup
{
    [ConcurrencyGroup("gpu")]
    private int Hidden() => 1;

    public int Work() => Hidden();
}
