using Terrarium.Protocol;

namespace Terrarium.Logging;

/// <summary>Prints workers' output in the driver, each line prefixed with the worker's pid.</summary>
internal sealed class ClusterLogPrinter : IDisposable
{
    private readonly Lock _lock = new();
    private bool _disposed;

    public void Print(LogLines lines)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            var writer = lines.Stderr ? Console.Error : Console.Out;
            foreach (var line in lines.Lines)
            {
                writer.WriteLine($"(pid={lines.Pid}) {line}");
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
        }
    }
}
