namespace Terrarium.Node.Sessions;

/// <summary>
/// Where a job's code is on this node, and the <c>pkg://</c> package it was unpacked from when the
/// driver shipped it (empty when the node reads the driver's own folder): workers pass the package
/// on, so that their nested work reaches other nodes with code those nodes can fetch.
/// </summary>
internal sealed record JobCode(string Directory, string Uri)
{
    public static JobCode None { get; } = new("", "");
}
