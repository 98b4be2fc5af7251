using Terrarium.Protocol;

namespace Terrarium.Objects;

/// <summary>
/// The parts of an object whose value is a tuple or a list: one handle per element, each complete
/// once the whole is (here, in the process that holds the whole's ref). A part taken as an argument
/// goes to the task's node like any value of this process; the whole stays alive while a part does.
/// </summary>
internal static class ObjectParts
{
    public static ObjectHandle[] Of(ObjectHandle whole, int count)
    {
        var parts = Enumerable.Range(0, count)
            .Select(_ => new ObjectHandle(whole.Session.NewObjectId(), whole.Session, onNode: false) { MadeBy = whole.MadeBy, PartOf = whole })
            .ToArray();
        _ = CompleteAsync(whole, parts);
        return parts;
    }

    private static async Task CompleteAsync(ObjectHandle whole, ObjectHandle[] parts)
    {
        // Fetched once if it stayed on its node (and made again there if that node is gone and its task may retry).
        var ready = await whole.ValueAsync().ConfigureAwait(false);
        if (ready.Error is { } error)
        {
            foreach (var part in parts)
            {
                part.Complete(new ObjectReady { ObjectId = part.Id, Error = error });
            }

            return;
        }

        var (values, refused) = SerializedParts.Split(ready.Value.Memory, parts.Length);
        for (var i = 0; i < parts.Length; i++)
        {
            parts[i].Complete(values is not null
                ? new ObjectReady { ObjectId = parts[i].Id, Value = values[i] }
                : new ObjectReady { ObjectId = parts[i].Id, Error = new TaskError { Kind = ErrorKind.InvalidRequest, Message = $"{whole.MadeBy ?? whole.Id} {refused}: it cannot be split into {parts.Length}" } });
        }
    }
}
