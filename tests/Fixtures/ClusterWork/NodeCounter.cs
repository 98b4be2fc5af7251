namespace ClusterWork;

/// <summary>A counter that says which node it lives on.</summary>
public sealed class NodeCounter
{
    private int _total;

    public int Add(int by) => _total += by;

    public string Where() => Terrarium.RuntimeContext.Current.NodeId;

    public int Pid() => Environment.ProcessId;

    /// <summary>Adds after <paramref name="milliseconds"/>: a call still running when something happens.</summary>
    public int AddSlowly(int by, int milliseconds)
    {
        Thread.Sleep(milliseconds);
        return _total += by;
    }
}

/// <summary>Work that takes long, for tests of what happens to it when its driver goes.</summary>
public static class LongWork
{
    /// <summary>Appends a line to <paramref name="marks"/>, then sleeps for <paramref name="seconds"/>.</summary>
    public static int MarkThenSleep(string marks, int seconds)
    {
        File.AppendAllText(marks, $"started {Environment.ProcessId}\n");
        Thread.Sleep(TimeSpan.FromSeconds(seconds));
        return seconds;
    }
}
