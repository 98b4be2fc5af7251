using Terrarium.Protocol;

namespace Terrarium.Objects;

/// <summary>
/// The parts of an object whose value is a tuple or a list: one handle per element, each complete
/// once the whole is (here, in the process that holds the whole's ref). A part taken as an argument
/// goes to the task's node like any value of this process. The whole stays alive until its parts
/// are made (a part's cancel goes to the whole's task meanwhile); then the parts hold their own values.
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
        var what = whole.MadeBy is { } task ? $"the result of {task}" : whole.Caller is not null ? $"the actor call's result {whole.Id}" : $"object {whole.Id}";
        try
        {
            // Fetched once if it stayed on its node (and made again there if that node is gone and its task may retry).
            var ready = await whole.ValueAsync().ConfigureAwait(false);
            if (ready.Error is { } error)
            {
                Fail(parts, error);
                return;
            }

            var (values, refused) = SerializedParts.Split(ready.Value.Memory, parts.Length);
            if (values is null)
            {
                Fail(parts, new TaskError { Kind = ErrorKind.InvalidRequest, Message = $"{what} {refused}: it cannot be split into {parts.Length}" });
                return;
            }

            for (var i = 0; i < parts.Length; i++)
            {
                parts[i].Complete(new ObjectReady { ObjectId = parts[i].Id, Value = values[i] });
            }
        }
        catch (Exception e)
        {
            // Bytes that are not MessagePack, say: every part must still hear.
            Fail(parts, new TaskError { Kind = ErrorKind.InvalidRequest, Message = $"{what} could not be split: {e.Message}" });
        }
        finally
        {
            foreach (var part in parts)
            {
                part.PartOf = null;
            }
        }
    }

    private static void Fail(ObjectHandle[] parts, TaskError error)
    {
        foreach (var part in parts)
        {
            part.Complete(new ObjectReady { ObjectId = part.Id, Error = error });
        }
    }
}
