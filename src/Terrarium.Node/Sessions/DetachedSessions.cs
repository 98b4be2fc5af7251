namespace Terrarium.Node.Sessions;

/// <summary>
/// Sessions whose stream broke without the client closing it: kept, with their job, objects and
/// running work, for <see cref="NodeOptions.SessionResumeGrace"/>, so that a client whose connection
/// dropped (a network hiccup, a peer starved of CPU) resumes instead of losing everything.
/// </summary>
internal sealed class DetachedSessions(NodeOptions options) : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (Session Session, ITimer Expiry)> _detached = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Session> _attached = new(StringComparer.Ordinal);
    private bool _disposed;

    public void Attached(Session session)
    {
        lock (_lock)
        {
            _attached[session.Id] = session;
        }
    }

    /// <summary>Keeps a session whose stream broke; <paramref name="end"/> runs if nobody resumes it in time.</summary>
    /// <returns>False when the node is stopping (its streams end because it does): nothing is kept.</returns>
    public bool Detach(Session session, Action<Session> end)
    {
        lock (_lock)
        {
            _attached.Remove(session.Id);
            if (_disposed)
            {
                return false;
            }

            var expiry = options.TimeProvider.CreateTimer(_ => Expire(session, end), null, options.SessionResumeGrace, Timeout.InfiniteTimeSpan);
            _detached[session.Id] = (session, expiry);
            return true;
        }
    }

    /// <summary>The session to resume: a detached one, or an attached one whose old stream the node has not yet seen break.</summary>
    public Session? TryResume(string sessionId, string jobId, string workerId)
    {
        lock (_lock)
        {
            if (_detached.TryGetValue(sessionId, out var detached) && Matches(detached.Session))
            {
                _detached.Remove(sessionId);
                detached.Expiry.Dispose();
                _attached[sessionId] = detached.Session;
                return detached.Session;
            }

            return _attached.TryGetValue(sessionId, out var attached) && Matches(attached) ? attached : null;
        }

        bool Matches(Session s) => s.JobId == jobId && s.WorkerId == workerId;
    }

    /// <summary>Every session attached or waiting to be resumed.</summary>
    public List<Session> All()
    {
        lock (_lock)
        {
            return [.. _attached.Values, .. _detached.Values.Select(d => d.Session)];
        }
    }

    /// <summary>A session that is attached or waiting to be resumed, or null.</summary>
    public Session? Find(string sessionId)
    {
        lock (_lock)
        {
            return _attached.TryGetValue(sessionId, out var attached) ? attached
                : _detached.TryGetValue(sessionId, out var detached) ? detached.Session : null;
        }
    }

    public void Ended(Session session)
    {
        lock (_lock)
        {
            _attached.Remove(session.Id);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            foreach (var (_, expiry) in _detached.Values)
            {
                expiry.Dispose();
            }

            _detached.Clear();
        }
    }

    private void Expire(Session session, Action<Session> end)
    {
        lock (_lock)
        {
            if (!_detached.Remove(session.Id, out var detached))
            {
                return;
            }

            detached.Expiry.Dispose();
        }

        end(session);
    }
}
