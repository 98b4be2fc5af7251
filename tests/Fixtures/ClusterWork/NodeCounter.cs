namespace ClusterWork;

/// <summary>A counter that says which node it lives on.</summary>
public sealed class NodeCounter
{
    private int _total;

    public int Add(int by) => _total += by;

    public string Where() => Terrarium.RuntimeContext.Current.NodeId;
}
