namespace Terrarium.IntegrationTests;

/// <summary>One embedded cluster with 2 CPUs shared by the tests of the "cluster" collection.</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    private Cluster? _cluster;

    public Cluster Cluster => _cluster ?? throw new InvalidOperationException("the fixture has not started");

    public async Task InitializeAsync() =>
        _cluster = await Cluster.InitAsync(new ClusterOptions { NumCpus = 2, LogToDriver = false }).DefaultTimeout();

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}
