using System.Collections.Concurrent;
using Terrarium.Protocol;

namespace Terrarium.Node.Sessions;

/// <summary>Forwards worker output to the sessions of the job that asked for it.</summary>
internal sealed class LogRelay
{
    private readonly ConcurrentDictionary<Session, string> _subscribers = new();

    public void Subscribe(Session session) => _subscribers[session] = session.JobId;

    public void Unsubscribe(Session session) => _subscribers.TryRemove(session, out _);

    public void Publish(string jobId, LogLines lines)
    {
        foreach (var (session, job) in _subscribers)
        {
            if (job == jobId)
            {
                session.Send(new Protocol.SessionEvent { Logs = lines });
            }
        }
    }
}
