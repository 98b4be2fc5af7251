using System.Collections.Concurrent;
using System.Linq.Expressions;
using System.Reflection;
using Google.Protobuf;
using Terrarium.Objects;
using Terrarium.Protocol;

namespace Terrarium.Serialization;

/// <summary>One argument of an analysed call: a serialized value, or an object the call depends on.</summary>
internal readonly record struct CallArg(ByteString? Value, ObjectHandle? Dependency)
{
    public Arg ToProto() => Dependency is { } dependency ? new Arg { ObjectId = dependency.Id } : new Arg { Value = Value };
}

/// <summary>A call read from an expression: what to call, and its arguments evaluated now.</summary>
internal sealed record AnalyzedCall(FunctionDescriptor Function, string DisplayName, CallArg[] Args, MethodBase Method)
{
    /// <summary>The arguments as they go on the wire.</summary>
    public IEnumerable<Arg> ProtoArgs => Args.Select(a => a.ToProto());

    /// <summary>The objects the call waits for.</summary>
    public IReadOnlyList<ObjectHandle> Dependencies => [.. Args.Where(a => a.Dependency is not null).Select(a => a.Dependency!)];
}

/// <summary>
/// Reads <c>() =&gt; Type.Method(args)</c>, <c>() =&gt; new Type(args)</c> and <c>x =&gt; x.Method(args)</c>
/// expressions: exactly one call whose arguments are evaluated at submission. An
/// <see cref="ObjectRef{T}"/> written where the method expects a <c>T</c> becomes a dependency.
/// </summary>
internal static class CallAnalyzer
{
    private static readonly ConcurrentDictionary<MethodBase, (FunctionDescriptor Descriptor, string Display)> s_descriptors = new();

    public static AnalyzedCall AnalyzeStaticCall(LambdaExpression lambda, string paramName)
    {
        ArgumentNullException.ThrowIfNull(lambda, paramName);
        if (Unwrap(lambda.Body) is not MethodCallExpression { Object: null } call)
        {
            throw new ArgumentException(
                $"a task must be one call of a static method, such as () => MyTasks.Square(4); got '{lambda.Body}'", paramName);
        }

        return Analyze(call.Method, call.Arguments, null, paramName);
    }

    public static AnalyzedCall AnalyzeConstructor(LambdaExpression lambda, string paramName)
    {
        ArgumentNullException.ThrowIfNull(lambda, paramName);
        if (Unwrap(lambda.Body) is not NewExpression { Constructor: { } constructor } creation)
        {
            throw new ArgumentException(
                $"an actor must be created with one constructor call, such as () => new Counter(10); got '{lambda.Body}'", paramName);
        }

        if (constructor.DeclaringType!.IsAbstract)
        {
            throw new ArgumentException($"cannot create an actor of abstract type {constructor.DeclaringType}", paramName);
        }

        return Analyze(constructor, creation.Arguments, null, paramName);
    }

    public static AnalyzedCall AnalyzeInstanceCall(LambdaExpression lambda, string paramName)
    {
        ArgumentNullException.ThrowIfNull(lambda, paramName);
        var self = lambda.Parameters[0];
        if (Unwrap(lambda.Body) is not MethodCallExpression call || call.Object != self)
        {
            throw new ArgumentException(
                $"an actor call must be one call of a method of the actor, such as x => x.Increment(5); got '{lambda.Body}'", paramName);
        }

        return Analyze(call.Method, call.Arguments, self, paramName);
    }

    private static Expression Unwrap(Expression body) =>
        body is UnaryExpression { NodeType: ExpressionType.Convert or ExpressionType.ConvertChecked, Method: null } convert ? convert.Operand : body;

    private static AnalyzedCall Analyze(MethodBase method, IReadOnlyList<Expression> arguments, ParameterExpression? self, string paramName)
    {
        var (descriptor, display) = s_descriptors.GetOrAdd(method, Describe);
        var parameters = method.GetParameters();
        var args = new CallArg[arguments.Count];
        for (var i = 0; i < arguments.Count; i++)
        {
            var parameter = parameters[i];
            if (parameter.ParameterType.IsByRef)
            {
                throw new ArgumentException($"{display}: parameter '{parameter.Name}' is passed by reference (ref/out/in), which a remote call cannot do", paramName);
            }

            if (IsObjectRefType(parameter.ParameterType))
            {
                throw new ArgumentException(
                    $"{display}: parameter '{parameter.Name}' is an ObjectRef; declare it as the value type instead and pass the ref, which the task then waits for",
                    paramName);
            }

            args[i] = EvaluateArg(arguments[i], parameter, self, display, paramName);
        }

        // Together a call's arguments must fit where one value does: an actor call travels as one
        // message, and a task's worker holds them all at once.
        var total = args.Sum(a => (long)(a.Value?.Length ?? 0));
        if (total > Protocol.Transport.MessageLimits.MaxValueBytes)
        {
            throw new ArgumentException(Serializer.TooLarge($"the arguments of {display}", null, total, null).Message, paramName);
        }

        return new AnalyzedCall(descriptor, display, args, method);
    }

    private static CallArg EvaluateArg(Expression argument, ParameterInfo parameter, ParameterExpression? self, string display, string paramName)
    {
        if (self is not null && References(argument, self))
        {
            throw new ArgumentException($"{display}: argument '{parameter.Name}' uses the actor itself ('{argument}'); arguments are evaluated by the caller", paramName);
        }

        if (argument is UnaryExpression { NodeType: ExpressionType.Convert, Method: { Name: "op_Implicit" } op } convert &&
            op.DeclaringType is { IsGenericType: true } refType && refType.GetGenericTypeDefinition() == typeof(ObjectRef<>))
        {
            var dependency = (ObjectRef?)Evaluate(convert.Operand)
                ?? throw new ArgumentException($"{display}: argument '{parameter.Name}' is a null ObjectRef", paramName);
            return new CallArg(null, dependency.Handle);
        }

        var value = Evaluate(argument);
        if (parameter.ParameterType == typeof(CancellationToken))
        {
            // The task gets a token of its own on its worker; nothing is sent for this one.
            return value is CancellationToken { CanBeCanceled: false }
                ? new CallArg(ByteString.Empty, null)
                : throw new ArgumentException(
                    $"{display}: argument '{parameter.Name}' is a CancellationToken that can be cancelled here, which a remote call cannot carry; " +
                    "write CancellationToken.None: the task receives its own token, cancelled by Cluster.CancelAsync or TaskOptions.Timeout", paramName);
        }

        if (value is ObjectRef)
        {
            throw new ArgumentException(
                $"{display}: argument '{parameter.Name}' is an ObjectRef passed as {parameter.ParameterType}; pass it where the method expects the ref's value type", paramName);
        }

        return new CallArg(Serializer.Serialize(parameter.ParameterType, value, $"{display}: argument '{parameter.Name}'"), null);
    }

    private static object? Evaluate(Expression expression)
    {
        switch (expression)
        {
            case ConstantExpression constant:
                return constant.Value;
            case MemberExpression { Expression: ConstantExpression closure, Member: FieldInfo field }:
                return field.GetValue(closure.Value);
            case MemberExpression { Expression: null, Member: FieldInfo staticField }:
                return staticField.GetValue(null);
            default:
                var boxed = Expression.Convert(expression, typeof(object));
                return Expression.Lambda<Func<object?>>(boxed).Compile(preferInterpretation: true)();
        }
    }

    private static bool IsObjectRefType(Type type) =>
        type == typeof(ObjectRef) || (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(ObjectRef<>));

    private static bool References(Expression expression, ParameterExpression parameter)
    {
        var finder = new ParameterFinder(parameter);
        finder.Visit(expression);
        return finder.Found;
    }

    private static (FunctionDescriptor, string) Describe(MethodBase method)
    {
        var type = method.DeclaringType ?? throw new ArgumentException($"method {method.Name} has no declaring type");
        if (type.IsGenericTypeDefinition || type.ContainsGenericParameters)
        {
            throw new ArgumentException($"{type} is an open generic type; call a method of a closed type");
        }

        var definition = method is MethodInfo { IsGenericMethod: true } generic ? generic.GetGenericMethodDefinition() : method;
        var descriptor = new FunctionDescriptor
        {
            Assembly = type.Assembly.GetName().Name,
            Type = type.FullName,
            Method = method.Name,
        };
        descriptor.ParameterTypes.AddRange(definition.GetParameters().Select(p => p.ParameterType.ToString()));
        if (method is MethodInfo { IsGenericMethod: true } closed)
        {
            descriptor.GenericArguments.AddRange(closed.GetGenericArguments().Select(t => t.AssemblyQualifiedName));
        }

        var display = method is ConstructorInfo ? $"new {type.Name}" : $"{type.Name}.{method.Name}";
        return (descriptor, display);
    }

    private sealed class ParameterFinder(ParameterExpression parameter) : ExpressionVisitor
    {
        public bool Found { get; private set; }

        protected override Expression VisitParameter(ParameterExpression node)
        {
            Found |= node == parameter;
            return node;
        }
    }
}
