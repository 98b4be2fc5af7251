using Grpc.Core;

namespace Terrarium.Cli;

/// <summary>A mistake the user can fix (an option, an address, a token): one line, no stack trace.</summary>
internal sealed class UserError(string message) : Exception(message)
{
    /// <summary>
    /// Runs a command's body: what goes wrong in a way the user can act on is one line on stderr and
    /// exit code 1, never a stack trace.
    /// </summary>
    public static async Task<int> Report(Func<Task<int>> body)
    {
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (UserError e)
        {
            return Fail(e.Message);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated)
        {
            return Fail($"the cluster refused the token ({e.Status.Detail}); pass the cluster's token with --token or {Protocol.Transport.ClusterToken.EnvironmentVariable}");
        }
        catch (RpcException e)
        {
            return Fail($"the cluster did not answer: {e.Status.Detail} ({e.StatusCode})");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
        {
            return Fail(e.Message);
        }
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine("terrarium: " + message);
        return 1;
    }
}
