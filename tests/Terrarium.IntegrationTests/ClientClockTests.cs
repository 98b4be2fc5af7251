using Microsoft.Extensions.Time.Testing;

namespace Terrarium.IntegrationTests;

/// <summary>The client waits on the clock it is given (<see cref="ClusterOptions.TimeProvider"/>), not on the machine's.</summary>
public sealed class ClientClockTests : IDisposable
{
    private readonly string _gate = Path.Combine(Path.GetTempPath(), $"terrarium-clock-{Guid.NewGuid():N}");

    public void Dispose() => File.Delete(_gate);

    [Fact]
    public async Task WaitAsync_ItsTimeoutPassesOnTheClustersClock_WithWhatIsReadyByThen()
    {
        var clock = new FakeTimeProvider();
        await using var cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 2, LogToDriver = false, TimeProvider = clock }).DefaultTimeout();
        var quick = cluster.Submit(() => TestTasks.Square(3));
        var held = cluster.Submit(() => TestTasks.WaitForFile(_gate, 1));
        Assert.Equal(9, await quick.DefaultTimeout());

        // An hour on the cluster's clock, which this test moves; on the machine's clock the wait would outlast the test.
        var wait = cluster.WaitAsync([quick, held], 2, TimeSpan.FromHours(1));
        for (var i = 0; i < 200 && !wait.IsCompleted; i++)
        {
            clock.Advance(TimeSpan.FromHours(1));
            await Task.Delay(50);
        }

        var (ready, pending) = await wait.DefaultTimeout();
        Assert.Equal([quick], ready);
        Assert.Equal([held], pending);

        await File.WriteAllTextAsync(_gate, "");
        Assert.Equal(1, await held.DefaultTimeout());
    }
}
