using System.Linq.Expressions;
using System.Runtime.CompilerServices;
using Google.Protobuf;
using Terrarium.Logging;
using Terrarium.Objects;
using Terrarium.Packaging;
using Terrarium.Protocol;
using Terrarium.Protocol.RuntimeEnvs;
using Terrarium.Protocol.Transport;
using Terrarium.Serialization;
using Terrarium.Sessions;

namespace Terrarium;

public sealed partial class Cluster
{
    private static readonly TaskOptions s_defaultTaskOptions = new();
    private readonly ConditionalWeakTable<RuntimeEnv, ResolvedEnv> _resolvedEnvs = [];

    /// <summary>
    /// Submits one call of a static method as a task: <c>cluster.Submit(() =&gt; MyTasks.Square(4))</c>.
    /// Arguments are evaluated now; an <see cref="ObjectRef{T}"/> passed where the method expects a
    /// value makes the task wait for that value.
    /// </summary>
    /// <exception cref="ArgumentException">The expression is not one static call, an argument cannot be serialized, or the options or runtime env are invalid.</exception>
    public ObjectRef<T> Submit<T>(Expression<Func<T>> call, TaskOptions? options = null) => SubmitCore<T>(call, options);

    /// <summary>Submits one call of an async static method as a task; the ref holds the awaited value.</summary>
    /// <exception cref="ArgumentException">The expression is not one static call, an argument cannot be serialized, or the options or runtime env are invalid.</exception>
    public ObjectRef<T> Submit<T>(Expression<Func<Task<T>>> call, TaskOptions? options = null) => SubmitCore<T>(call, options);

    /// <summary>
    /// Stores a value in the cluster once, so that many tasks can take it as an argument (pass the
    /// ref where a method expects a <typeparamref name="T"/>) without sending it again each time.
    /// </summary>
    /// <exception cref="ArgumentException">The value cannot be serialized.</exception>
    public ObjectRef<T> Put<T>(T value)
    {
        ThrowIfDisposed();
        var bytes = Serializer.Serialize(typeof(T), value, "the value put");
        var id = _session.NewObjectId();
        var handle = _session.Untracked(id);
        _session.PutValue(handle, bytes);
        handle.Complete(new ObjectReady { ObjectId = id, Value = bytes });
        return new ObjectRef<T>(handle);
    }

    /// <summary>
    /// Cancels the task or actor call behind <paramref name="reference"/>. A task still queued is
    /// dropped; a running one has its <see cref="CancellationToken"/> cancelled (a method receives
    /// it through a <see cref="CancellationToken"/> parameter, written <c>CancellationToken.None</c>
    /// in the expression), and with <paramref name="force"/> its worker process is killed and
    /// replaced. Awaiting the ref then throws <see cref="TaskCancelledException"/>, unless the work
    /// finished first. Returns once the request is on its way (for an actor call, once the actor's
    /// worker holds it: a call made next cannot overtake it); nothing happens to finished work. A
    /// part of a split result (<see cref="ObjectRefSplitting"/>) cancels the task or call of its whole.
    /// </summary>
    /// <exception cref="ArgumentException">The ref belongs to another cluster connection, or <paramref name="force"/> is asked for an actor call (kill the actor instead).</exception>
    public Task CancelAsync(ObjectRef reference, bool force = false, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ThrowIfDisposed();
        // A part of a split result is cancelled through its whole's task or call.
        var handle = reference.Handle;
        while (handle.PartOf is { } whole)
        {
            handle = whole;
        }

        if (!_nodes.Sessions.Contains(handle.Session))
        {
            throw new ArgumentException($"{reference} belongs to another cluster connection; cancel it through that one", nameof(reference));
        }

        if (handle.Caller is { } caller)
        {
            return force
                ? throw new ArgumentException(
                    $"{reference} is an actor call: force would kill the actor's worker, with the actor; cancel without force, or call KillAsync on the actor", nameof(force))
                : caller.CancelAsync(handle, ct);
        }

        if (!handle.Ready.IsCompleted)
        {
            handle.Session.Send(new ClientRequest { Cancel = new CancelTask { WorkId = handle.Id, Force = force } });
        }

        return Task.CompletedTask;
    }

    /// <summary>Waits for all the values, in the order of <paramref name="refs"/>.</summary>
    public Task<T[]> GetAsync<T>(IEnumerable<ObjectRef<T>> refs, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(refs);
        return Task.WhenAll(refs.Select(r => r.GetAsync(ct)));
    }

    /// <summary>
    /// Waits until <paramref name="numReturns"/> of the refs are ready (with a value or an error) or the
    /// timeout passes. Both lists keep the order of <paramref name="refs"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="numReturns"/> is not between 1 and the number of refs.</exception>
    public async Task<(IReadOnlyList<ObjectRef<T>> Ready, IReadOnlyList<ObjectRef<T>> Pending)> WaitAsync<T>(
        IEnumerable<ObjectRef<T>> refs, int numReturns, TimeSpan timeout, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(refs);
        var all = refs.ToList();
        if (numReturns < 1 || numReturns > all.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(numReturns), numReturns, $"{nameof(numReturns)} must be between 1 and the number of refs ({all.Count})");
        }

        if (timeout < TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, $"{nameof(timeout)} must be positive or Timeout.InfiniteTimeSpan");
        }

        var notReady = all.Where(r => !r.IsReady).ToList();
        var remaining = numReturns - (all.Count - notReady.Count);
        if (remaining > 0)
        {
            // Only the refs still pending are watched, and the watches are dropped once the wait is
            // over, so that waiting one at a time on a long list (Ray's wait loop) does not pile up
            // a continuation per ref per call.
            var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var stopWatching = new CancellationTokenSource();
            foreach (var reference in notReady)
            {
                _ = reference.Handle.Ready.ContinueWith(_ =>
                {
                    if (Interlocked.Decrement(ref remaining) == 0)
                    {
                        enough.TrySetResult();
                    }
                }, stopWatching.Token, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }

            using (_session.EnterBlocked())
            {
                try
                {
                    await enough.Task.WaitAsync(timeout, _clock, ct).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // Report what is ready by now.
                }
                finally
                {
                    await stopWatching.CancelAsync().ConfigureAwait(false);
                }
            }
        }

        var ready = all.Where(r => r.IsReady).Take(numReturns).ToList();
        var readySet = ready.ToHashSet();
        return (ready, all.Where(r => !readySet.Contains(r)).ToList());
    }

    private ObjectRef<T> SubmitCore<T>(LambdaExpression call, TaskOptions? options)
    {
        ThrowIfDisposed();
        options ??= s_defaultTaskOptions;
        options.Validate();
        RefuseTaskTypes(typeof(T), nameof(call));
        var analyzed = CallAnalyzer.AnalyzeStaticCall(call, nameof(call));
        var env = Resolve(options.RuntimeEnv, $"{nameof(options)}.{nameof(TaskOptions.RuntimeEnv)}");
        var resources = ToRequest(options.NumCpus, options.Resources);
        var (session, _) = _nodes.Place(resources, analyzed.DisplayName, nameof(options), options.SchedulingStrategy);
        analyzed = PutLargeArguments(analyzed, session);

        session.DefineEnv(env);
        ShareDependencies(analyzed, session);
        var id = session.NewObjectId();
        var handle = session.Track(id, analyzed.DisplayName);
        var submit = new SubmitTask
        {
            WorkId = id,
            Function = analyzed.Function,
            EnvHash = env.Hash,
            Resources = resources,
            MaxRetries = options.MaxRetries,
            RetryExceptions = options.RetryExceptions,
            // Rounded up: a timeout under a millisecond must not read as "none".
            TimeoutMs = options.Timeout is { } timeout ? (long)Math.Ceiling(timeout.TotalMilliseconds) : 0,
        };
        submit.Args.AddRange(analyzed.ProtoArgs);

        session.Send(new ClientRequest { SubmitTask = submit });
        KeepDependenciesUntil(handle.Ready, analyzed, session);
        _nodes.Follow(handle, submit, env, analyzed, options.SchedulingStrategy);
        return new ObjectRef<T>(handle);
    }

    /// <summary>
    /// Arguments over 1 MiB are put on the task's node and taken by ref, as Ray does: the value is
    /// uploaded in pieces beside the session's stream, so it neither waits behind the requests sent
    /// before it nor holds up those after it, and the node receives it into one buffer instead of
    /// as one message. (The node keeps a task's resolved arguments for its retries there.)
    /// </summary>
    private static AnalyzedCall PutLargeArguments(AnalyzedCall call, Session session)
    {
        if (!call.Args.Any(IsLarge))
        {
            return call;
        }

        return call with { Args = [.. call.Args.Select(arg => IsLarge(arg) ? new CallArg(null, Put(arg.Value!)) : arg)] };

        static bool IsLarge(CallArg arg) => arg.Value is { Length: > MessageLimits.InlineValueBytes };

        ObjectHandle Put(ByteString value)
        {
            var handle = session.Untracked(session.NewObjectId());
            session.PutValue(handle, value);
            handle.Complete(new ObjectReady { ObjectId = handle.Id, Value = value });
            return handle;
        }
    }

    /// <summary>
    /// Objects a request depends on that its node does not hold — actor call results this process
    /// holds, results made on other nodes — go to that node before the request.
    /// </summary>
    private static void ShareDependencies(AnalyzedCall analyzed, Session session)
    {
        foreach (var arg in analyzed.Args)
        {
            if (arg.Dependency is { } dependency)
            {
                session.ShareWithNode(dependency);
            }
        }
    }

    /// <summary>
    /// Keeps the refs a request takes from other nodes' objects alive until <paramref name="done"/>:
    /// its node copies a large one from the node that made it, which must not be told to release it
    /// before (the release would travel on another connection, and could arrive first).
    /// </summary>
    private static void KeepDependenciesUntil(Task done, AnalyzedCall analyzed, Session session)
    {
        if (RemoteDependencies(analyzed, session) is { } remote)
        {
            _ = done.ContinueWith(_ => GC.KeepAlive(remote), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>The handles of the objects a request takes that another node holds, or null for none.</summary>
    private static List<ObjectHandle>? RemoteDependencies(AnalyzedCall analyzed, Session session)
    {
        List<ObjectHandle>? remote = null;
        foreach (var arg in analyzed.Args)
        {
            if (arg.Dependency is { } dependency && dependency.Session != session)
            {
                (remote ??= []).Add(dependency);
            }
        }

        return remote;
    }

    /// <summary>
    /// The effective env of a task or actor: its own env merged over this connection's base env, with
    /// local paths packaged into content URIs. Remembered per env object, unless it names local code
    /// or files the user may edit before the next submission.
    /// </summary>
    private ResolvedEnv Resolve(RuntimeEnv? own, string paramName)
    {
        if (own is null && _baseEnv is not null)
        {
            return _baseEnv;
        }

        if (own is not null && _resolvedEnvs.TryGetValue(own, out var cached))
        {
            return cached;
        }

        if (own is not null)
        {
            RuntimeEnvValidator.Validate(own, paramName);
            if (own.Config is { EagerInstall: false })
            {
                ClientLog.EagerInstallIgnored(_logger, paramName);
            }
        }

        var merged = RuntimeEnvMerge.Merge(_baseEnvSpec, own);
        if (merged is not null && own is not null && _baseEnvSpec is not null)
        {
            // Fields that may not be combined can come one from the job, one from the task.
            RuntimeEnvValidator.Validate(merged, paramName);
        }

        var resolved = ResolvedEnv.From(merged is null ? null : _envPackager.Resolve(merged, paramName));
        if (merged is not null && EnvPackager.HasEditableLocalPaths(merged))
        {
            // Not remembered: the files may have changed by the next submission.
            return resolved;
        }

        if (own is null)
        {
            _baseEnv = resolved;
        }
        else
        {
            _resolvedEnvs.AddOrUpdate(own, resolved);
        }

        return resolved;
    }

    private static ResourceRequest ToRequest(double numCpus, IDictionary<string, double> custom)
    {
        var request = new ResourceRequest { NumCpus = numCpus };
        if (custom.Count > 0)
        {
            request.Custom.Add(custom);
        }

        return request;
    }

    private static void RefuseTaskTypes(Type resultType, string paramName)
    {
        if (resultType == typeof(Task) || resultType == typeof(ValueTask) ||
            (resultType.IsGenericType && resultType.GetGenericTypeDefinition() == typeof(ValueTask<>)))
        {
            throw new ArgumentException($"the called method returns {resultType.Name}; return a value or a Task<T> so the result can be sent back", paramName);
        }
    }
}
