using Google.Protobuf;
using Terrarium.Actors;
using Terrarium.Protocol;
using Terrarium.Protocol.Security;
using Terrarium.Protocol.Transport;
using Terrarium.Serialization;

namespace Terrarium.Worker;

/// <summary>
/// Runs, once, the code paths every first task takes — MessagePack's non-generic serializer,
/// reflection invoke, protobuf messages, JSON — while the worker waits for its setup, so that a
/// pre-started worker pays their first-use cost before anyone waits on it. A worker that may host
/// an actor also starts an actor server, calls it once and stops it, so that a new actor's first
/// call does not wait for the handshake and framing code to be compiled.
/// </summary>
internal static class WorkerWarmUp
{
    /// <param name="actorServerSocket">Where to start the throwaway actor server, or null for a worker that will not host an actor.</param>
    public static async Task RunAsync(string? actorServerSocket)
    {
        RunCommonPaths();
        if (actorServerSocket is { Length: > 0 })
        {
            await WarmActorServerAsync(actorServerSocket).ConfigureAwait(false);
        }
    }

    private static void RunCommonPaths()
    {
        foreach (var (type, value) in new (Type, object?)[] { (typeof(int), 1), (typeof(string), "x"), (typeof(long), 1L), (typeof(double), 1.0), (typeof(int[]), new[] { 1 }) })
        {
            var bytes = Serializer.Serialize(type, value, "warm-up");
            Serializer.Deserialize(type, bytes.Memory);
        }

        var invocation = new Invocation(typeof(WorkerWarmUp).GetMethod(nameof(Echo), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!);
        var result = invocation.InvokeAsync(null, invocation.ReadArgs([Serializer.Serialize(typeof(int), 1, "warm-up")], CancellationToken.None)).GetAwaiter().GetResult();
        var done = new WorkerEvent { Done = new WorkDone { WorkId = "warm-up", Value = invocation.WriteResult(result, Protocol.Transport.MessageLimits.MaxValueBytes) } };
        WorkerEvent.Parser.ParseFrom(done.ToByteArray());
        WorkerCommandBatch.Parser.ParseFrom(SampleCommands().ToByteArray());
        RuntimeEnv.FromJson("""{"env_vars":{"A":"1"}}""").ToJson();
        JobLoadContext.WarmUp();
    }

    private static int Echo(int value) => value;

    private static async Task WarmActorServerAsync(string socket)
    {
        var credentials = ClusterCredentials.UnixOnly(Guid.NewGuid().ToString("N"));
        const string actorId = "warm-up";
        try
        {
            var server = ActorServer.Start(actorId, "unix:" + socket, credentials,
                call => Task.FromResult(new WorkDone { WorkId = call.WorkId, Value = ByteString.Empty }), _ => { });
            var results = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using (var caller = new ActorConnection([Endpoint.UnixSocket(socket)], credentials, actorId, _ => results.TrySetResult(), _ => results.TrySetResult()))
            {
                caller.TrySend(new ActorCall { WorkId = "w", Method = new FunctionDescriptor { Type = "T", Method = "M" } });
                await results.Task.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }

            server.CloseWithin(Task.Delay(TimeSpan.FromSeconds(5)));
        }
        catch (Exception e) when (e is TimeoutException || WorkExecutor.IsServerStartFailure(e))
        {
            // Only a warm-up: the real server reports its own failures.
        }
        finally
        {
            File.Delete(socket);
        }
    }

    /// <summary>Every field a worker's first commands carry, so that parsing them is compiled before they come.</summary>
    private static WorkerCommandBatch SampleCommands()
    {
        var setup = new WorkerSetup
        {
            NodeId = "n", JobId = "j", JobCodeDir = "/", RuntimeEnvJson = "{}", RuntimeEnvHash = "h", ActorId = "a",
            HeadAddress = "unix:/h", WorkingDirectory = "/", AssemblyDirectories = { "/" }, EnvVars = { ["A"] = "1" },
            PreloadedAssemblies = { ["A"] = "/a.dll" }, NativeLibraries = { ["n"] = "/n.so" },
            ResolvedNugetPackages = { new ResolvedNuGetPackage { Id = "A", Version = "1.0.0", Assets = { "lib/a.dll" } } },
        };
        var execute = new Execute { WorkId = "w", Function = new FunctionDescriptor { Type = "T", Method = "M" }, Args = { ByteString.CopyFrom(1) } };
        var start = new StartActor { ActorId = "a", Constructor = new FunctionDescriptor { Type = "T", Method = ".ctor" }, Args = { ByteString.CopyFrom(1) }, ListenAddress = "unix:/a" };
        return new WorkerCommandBatch { Commands = { new WorkerCommand { Setup = setup }, new WorkerCommand { Execute = execute }, new WorkerCommand { StartActor = start }, new WorkerCommand { Reclaim = new Reclaim() } } };
    }
}
