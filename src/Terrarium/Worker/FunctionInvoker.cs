using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.Loader;
using Terrarium.Protocol;

namespace Terrarium.Worker;

/// <summary>Finds the methods and constructors that descriptors name, in the job's load context.</summary>
internal sealed class FunctionInvoker(AssemblyLoadContext context)
{
    private const BindingFlags AnyMember = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
    private readonly ConcurrentDictionary<FunctionDescriptor, Invocation> _cache = new();

    public Invocation Resolve(FunctionDescriptor function) => _cache.GetOrAdd(function, ResolveUncached);

    private Invocation ResolveUncached(FunctionDescriptor function)
    {
        Assembly assembly;
        try
        {
            assembly = context.LoadFromAssemblyName(new AssemblyName(function.Assembly));
        }
        catch (FileNotFoundException e)
        {
            throw new TypeLoadException($"assembly '{function.Assembly}' is not in the job's code, modules or packages: {e.Message}", e);
        }

        var type = assembly.GetType(function.Type, throwOnError: false)
            ?? throw new TypeLoadException($"type '{function.Type}' is not in assembly '{function.Assembly}' (was the job's code rebuilt?)");
        var wanted = function.ParameterTypes;
        if (function.Method == ".ctor")
        {
            var constructor = type.GetConstructors(AnyMember).FirstOrDefault(c => Matches(c, wanted))
                ?? throw new MissingMethodException($"{type.FullName} has no constructor ({string.Join(", ", wanted)})");
            return new Invocation(constructor);
        }

        var method = type.GetMethods(AnyMember).FirstOrDefault(m => m.Name == function.Method && Matches(m, wanted))
            ?? throw new MissingMethodException($"{type.FullName} has no method {function.Method}({string.Join(", ", wanted)})");
        if (function.GenericArguments.Count > 0)
        {
            var arguments = function.GenericArguments
                .Select(name => Type.GetType(name, context.LoadFromAssemblyName, null, throwOnError: true)!)
                .ToArray();
            method = method.MakeGenericMethod(arguments);
        }

        return new Invocation(method);
    }

    private static bool Matches(MethodBase method, IReadOnlyList<string> parameterTypes)
    {
        var parameters = method.GetParameters();
        if (parameters.Length != parameterTypes.Count)
        {
            return false;
        }

        for (var i = 0; i < parameters.Length; i++)
        {
            if (parameters[i].ParameterType.ToString() != parameterTypes[i])
            {
                return false;
            }
        }

        return true;
    }
}
