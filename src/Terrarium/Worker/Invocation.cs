using System.Reflection;
using System.Runtime.ExceptionServices;
using Google.Protobuf;
using Terrarium.Serialization;

namespace Terrarium.Worker;

/// <summary>A resolved method or constructor: reads its arguments, calls it, awaits it and writes its result.</summary>
internal sealed class Invocation
{
    private readonly MethodBase _method;
    private readonly ParameterInfo[] _parameters;
    private readonly PropertyInfo? _taskResult;

    public Invocation(MethodBase method)
    {
        _method = method;
        _parameters = method.GetParameters();
        TakesCancellationToken = _parameters.Any(p => p.ParameterType == typeof(CancellationToken));
        Display = method is ConstructorInfo ? $"new {method.DeclaringType!.Name}" : $"{method.DeclaringType!.Name}.{method.Name}";
        if (method is MethodInfo info)
        {
            var returnType = info.ReturnType;
            if (returnType.IsGenericType && returnType.GetGenericTypeDefinition() == typeof(Task<>))
            {
                _taskResult = returnType.GetProperty(nameof(Task<object>.Result));
                ResultType = returnType.GetGenericArguments()[0];
            }
            else
            {
                ResultType = returnType;
            }
        }
    }

    public string Display { get; }

    /// <summary>The method or constructor itself.</summary>
    public MethodBase Method => _method;

    /// <summary>Whether a parameter receives the work's cancellation token.</summary>
    public bool TakesCancellationToken { get; }

    /// <summary>The type results are serialized as; null for a constructor.</summary>
    public Type? ResultType { get; }

    /// <param name="args">The serialized arguments, one per parameter.</param>
    /// <param name="cancellation">
    /// What a <see cref="CancellationToken"/> parameter receives: the work's own token (the caller
    /// wrote <c>CancellationToken.None</c> in its expression, and nothing was sent for it).
    /// </param>
    public object?[] ReadArgs(IReadOnlyList<ByteString> args, CancellationToken cancellation)
    {
        if (args.Count != _parameters.Length)
        {
            throw new ArgumentException($"{Display} takes {_parameters.Length} arguments but {args.Count} were sent");
        }

        var values = new object?[args.Count];
        for (var i = 0; i < values.Length; i++)
        {
            var parameter = _parameters[i];
            if (parameter.ParameterType == typeof(CancellationToken))
            {
                values[i] = cancellation;
                continue;
            }

            try
            {
                values[i] = Serializer.Deserialize(parameter.ParameterType, args[i].Memory);
            }
            catch (MessagePack.MessagePackSerializationException e)
            {
                throw new ArgumentException($"{Display}: argument '{parameter.Name}' could not be read as {parameter.ParameterType}: {e.Message}", e);
            }
        }

        return values;
    }

    public async Task<object?> InvokeAsync(object? target, object?[] args)
    {
        object? returned;
        try
        {
            returned = _method is ConstructorInfo constructor ? constructor.Invoke(args) : _method.Invoke(target, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }

        if (_taskResult is not null && returned is Task task)
        {
            await task.ConfigureAwait(false);
            return _taskResult.GetValue(task);
        }

        return returned;
    }

    public ByteString WriteResult(object? value, int maxBytes) => Serializer.Serialize(ResultType!, value, $"the result of {Display}", maxBytes);
}
