namespace Terrarium.Tests;

/// <summary>
/// Tests that change the process's umask, which every thread shares: run alone, so that no test
/// running beside them creates files or folders with the mode they set (a conda prefix writable by
/// others is refused, for one).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessUmask
{
    public const string Name = "process umask";
}
