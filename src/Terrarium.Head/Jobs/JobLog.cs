namespace Terrarium.Head.Jobs;

/// <summary>
/// The output of a submitted job's driver as the head keeps it: the last <c>limit</c> bytes, and how
/// many it has printed in all, so that offsets into its output stay meaningful once older bytes are
/// dropped. Followers wait on <see cref="Changed"/>. Not thread-safe: <see cref="JobSubmissions"/>
/// holds its lock.
/// </summary>
internal sealed class JobLog(long limit)
{
    private byte[] _kept = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Bytes the driver has printed in all.</summary>
    public long Total { get; private set; }

    /// <summary>Where the kept bytes start in the driver's output.</summary>
    public long KeptFrom => Total - _kept.Length;

    /// <summary>Completes when output arrives or the job's state changes.</summary>
    public Task Changed => _changed.Task;

    /// <summary>A head restarted with Redis: the output it kept, of <paramref name="total"/> in all.</summary>
    public void Restore(byte[] kept, long total)
    {
        _kept = kept.Length > limit ? kept[^(int)limit..] : kept;
        Total = Math.Max(total, _kept.Length);
    }

    /// <summary>
    /// Output from <paramref name="offset"/> on, as a node sends it: what the head has already is
    /// skipped (a node sending again after a lost reply); output that starts past what the head has
    /// is refused (nothing added), and the node, told <see cref="Total"/>, sends again from there.
    /// </summary>
    /// <returns>The bytes that are new.</returns>
    public byte[] Append(long offset, ReadOnlySpan<byte> data)
    {
        if (offset > Total)
        {
            return [];
        }

        var skip = (int)Math.Min(Total - offset, data.Length);
        var added = data[skip..].ToArray();
        if (added.Length == 0)
        {
            return added;
        }

        var joined = new byte[Math.Min(limit, _kept.Length + (long)added.Length)];
        var fromAdded = Math.Min(added.Length, joined.Length);
        var fromKept = joined.Length - fromAdded;
        _kept.AsSpan(_kept.Length - fromKept).CopyTo(joined);
        added.AsSpan(added.Length - fromAdded).CopyTo(joined.AsSpan(fromKept));
        _kept = joined;
        Total += added.Length;
        Signal();
        return added;
    }

    /// <summary>The kept bytes from <paramref name="offset"/> (or from the first kept one, if later), and where they start.</summary>
    public (long From, byte[] Data) From(long offset)
    {
        var from = Math.Clamp(offset, KeptFrom, Total);
        return (from, _kept[(int)(from - KeptFrom)..]);
    }

    /// <summary>The kept bytes: what the state store should hold once its copy grew past twice the limit.</summary>
    public byte[] Kept => _kept;

    /// <summary>Wakes followers: new output, or the job ended.</summary>
    public void Signal() => Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
}
