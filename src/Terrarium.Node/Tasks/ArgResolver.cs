using Google.Protobuf;
using Terrarium.Node.Objects;
using Terrarium.Protocol;

namespace Terrarium.Node.Tasks;

/// <summary>Turns arguments into values, waiting for the objects they refer to.</summary>
internal static class ArgResolver
{
    /// <summary>The values, or the error of the first dependency that failed or is unknown here.</summary>
    public static async ValueTask<(IReadOnlyList<ByteString> Values, TaskError? Error)> ResolveAsync(
        IReadOnlyList<Arg> args, ObjectStore objects)
    {
        if (args.Count == 0)
        {
            return ([], null);
        }

        var values = new ByteString[args.Count];
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg.KindCase == Arg.KindOneofCase.Value)
            {
                values[i] = arg.Value;
                continue;
            }

            var pending = objects.Find(arg.ObjectId);
            if (pending is null)
            {
                return ([], new TaskError
                {
                    Kind = ErrorKind.ObjectLost,
                    Message = $"argument {i} refers to object {arg.ObjectId}, which this node does not hold (released or never created)",
                });
            }

            var result = pending.IsCompletedSuccessfully ? pending.Result : await pending.ConfigureAwait(false);
            if (result.Error is { } error)
            {
                return ([], error);
            }

            values[i] = result.Value!;
        }

        return (values, null);
    }
}
