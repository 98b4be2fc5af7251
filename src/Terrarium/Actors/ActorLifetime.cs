namespace Terrarium;

/// <summary>How long an actor lives (<see cref="ActorOptions.Lifetime"/>).</summary>
public enum ActorLifetime
{
    /// <summary>Until its job ends (its driver disposes its <see cref="Cluster"/> or dies), or it is killed.</summary>
    Job,

    /// <summary>
    /// Until it is killed (<see cref="ActorHandle{T}.KillAsync"/>), from any driver: the job that
    /// made it may end. It lives as long as its node does; find it again by name.
    /// </summary>
    Detached,
}
