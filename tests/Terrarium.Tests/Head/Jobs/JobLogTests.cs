using System.Text;
using Terrarium.Head.Jobs;

namespace Terrarium.Tests.Head.Jobs;

/// <summary>What the head keeps of a driver's output: the last bytes within the limit, at the offsets the driver printed them.</summary>
public sealed class JobLogTests
{
    [Fact]
    public void PastTheLimit_TheOldestBytesGo_AndOffsetsStayTheDrivers()
    {
        var log = new JobLog(8);

        log.Append(0, Bytes("abcde"));
        log.Append(5, Bytes("fghij"));

        Assert.Equal((10L, 2L), (log.Total, log.KeptFrom));
        Assert.Equal((2L, "cdefghij"), Text(log.From(0)));
        Assert.Equal((7L, "hij"), Text(log.From(7)));
        Assert.Equal((10L, ""), Text(log.From(99)));
    }

    [Fact]
    public void OutputSentAgain_IsNotKeptTwice_OnlyWhatIsNew()
    {
        var log = new JobLog(100);
        log.Append(0, Bytes("hello "));

        var added = log.Append(3, Bytes("lo world"));

        Assert.Equal("world", Encoding.UTF8.GetString(added));
        Assert.Equal((0L, "hello world"), Text(log.From(0)));
    }

    [Fact]
    public void OutputPastWhatTheHeadHas_IsRefused_SoTheNodeSendsAgainFromTheTotal()
    {
        var log = new JobLog(100);
        log.Append(0, Bytes("abc"));

        Assert.Empty(log.Append(10, Bytes("xyz")));

        Assert.Equal(3, log.Total);
        Assert.Equal((0L, "abc"), Text(log.From(0)));
    }

    [Fact]
    public void Restored_KeepsTheLastBytesWithinTheLimit_AtTheirOffsets()
    {
        var log = new JobLog(4);

        log.Restore(Bytes("abcdef"), total: 106);

        Assert.Equal((106L, 102L), (log.Total, log.KeptFrom));
        Assert.Equal((102L, "cdef"), Text(log.From(0)));
    }

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    private static (long, string) Text((long From, byte[] Data) part) => (part.From, Encoding.UTF8.GetString(part.Data));
}
