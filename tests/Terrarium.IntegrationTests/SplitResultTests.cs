namespace Terrarium.IntegrationTests;

/// <summary>
/// One ref per element of a tuple or list result (<see cref="ObjectRefSplitting"/>, Ray's
/// num_returns): each awaited alone and passed alone to other work, failures and cancels shared.
/// </summary>
public sealed class SplitResultTests : IAsyncLifetime
{
    private Cluster _cluster = null!;

    public async Task InitializeAsync() => _cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 2, LogToDriver = false }).DefaultTimeout();

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task ATuplesElements_AreRefsOfTheirOwn_EachAnArgumentOfOtherWork()
    {
        var (min, max) = _cluster.Submit(() => SplitWork.MinMax(new[] { 4, -2, 9 })).Split();

        var squared = _cluster.Submit(() => TestTasks.Square(min));

        Assert.Equal(9, await max.DefaultTimeout());
        Assert.Equal(4, await squared.DefaultTimeout());
        Assert.Equal(-2, await min.DefaultTimeout());
    }

    [Fact]
    public async Task ALargeElement_StaysWhole_AndReachesTheTaskItIsPassedTo()
    {
        var (data, length) = _cluster.Submit(() => SplitWork.PatternAndLength(4)).Split();

        var checkedThere = _cluster.Submit(() => TestTasks.CheckPattern(data, 4));

        Assert.Equal(4 << 20, await length.DefaultTimeout());
        Assert.True(await checkedThere.DefaultTimeout());
        Assert.True(TestTasks.IsPattern((await data.DefaultTimeout()).Span, 4));
    }

    [Fact]
    public async Task AnArrayResult_SplitsIntoItsCount_AndAnotherLengthFailsEveryPartSayingSo()
    {
        var parts = _cluster.Submit(() => SplitWork.Range(3)).Split(3);
        var wrong = _cluster.Submit(() => SplitWork.Range(3)).Split(2);

        Assert.Equal(new[] { 0, 1, 2 }, await _cluster.GetAsync(parts).DefaultTimeout());
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => wrong[1].DefaultTimeout());
        Assert.Contains("SplitWork.Range returned 3 values where 2 were asked for: it cannot be split into 2", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => _cluster.Submit(() => SplitWork.Range(3)).Split(0));
        Assert.Contains("a byte[] travels as one binary value", Assert.Throws<ArgumentException>(() => _cluster.Submit(() => SplitWork.Bytes()).Split(2)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFailedTask_FailsEachPart_WithItsException()
    {
        var (first, second) = _cluster.Submit(() => SplitWork.Fails("no pair today")).Split();

        Assert.Contains("no pair today", (await Assert.ThrowsAsync<TaskFailedException>(() => first.DefaultTimeout())).Message, StringComparison.Ordinal);
        Assert.Contains("no pair today", (await Assert.ThrowsAsync<TaskFailedException>(() => second.DefaultTimeout())).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CancellingAPart_EvenOfAPart_CancelsTheTask()
    {
        var gate = Path.Combine(Path.GetTempPath(), "terrarium-split-gate-" + Guid.NewGuid().ToString("N"));
        var (pair, word) = _cluster.Submit(() => SplitWork.NestedAfter(gate)).Split();
        var (first, second) = pair.Split();

        await _cluster.CancelAsync(second, force: true).DefaultTimeout();

        await Assert.ThrowsAsync<TaskCancelledException>(() => first.DefaultTimeout());
        await Assert.ThrowsAsync<TaskCancelledException>(() => word.DefaultTimeout());
    }

    [Fact]
    public async Task AnActorCallsTuple_Splits_AndAPartGoesToAnotherCall()
    {
        var actor = _cluster.CreateActor(() => new Pairer());
        var (word, number) = actor.Call(p => p.Pair("seven", 7)).Split();

        Assert.Equal("seven:49", await actor.Call(p => p.Describe(word, TestTasks.Square(7))).DefaultTimeout());
        Assert.Equal(7, await number.DefaultTimeout());
    }
}

public static class SplitWork
{
    public static (int Min, int Max) MinMax(int[] values) => (values.Min(), values.Max());

    public static (ReadOnlyMemory<byte> Data, int Length) PatternAndLength(int mebibytes)
    {
        var data = TestTasks.Pattern(mebibytes);
        return (data, data.Length);
    }

    public static int[] Range(int count) => [.. Enumerable.Range(0, count)];

    public static (int, int) Fails(string message) => throw new InvalidOperationException(message);

    /// <summary>Returns only once <paramref name="gate"/> exists.</summary>
    public static ((int, int), string) NestedAfter(string gate) => ((TestTasks.WaitForFile(gate, 1), 2), "three");

    public static byte[] Bytes() => [1, 2];
}

public sealed class Pairer
{
    public (string Word, int Number) Pair(string word, int number) => (word, number);

    public string Describe(string word, int number) => $"{word}:{number}";
}
