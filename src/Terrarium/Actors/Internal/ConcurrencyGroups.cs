using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace Terrarium.Actors;

/// <summary>
/// The concurrency groups an actor class declares with <see cref="ConcurrencyGroupAttribute"/>,
/// checked: each group's size and the group of each method. The driver reads a class when it
/// creates the actor, so that a mistake is an <see cref="ArgumentException"/> there; the worker
/// reads the same to run the actor's calls.
/// </summary>
internal sealed class ConcurrencyGroups
{
    /// <summary>The group of methods that name none, sized by <see cref="ActorOptions.MaxConcurrency"/>.</summary>
    public const string DefaultGroup = "default";

    private static readonly ConditionalWeakTable<Type, ConcurrencyGroups> s_byType = [];
    private readonly Type _actorType;
    private readonly Dictionary<string, int> _declared;
    private readonly ConcurrentDictionary<MethodBase, string> _methodGroups = new();

    private ConcurrencyGroups(Type actorType, Dictionary<string, int> declared)
    {
        _actorType = actorType;
        _declared = declared;
    }

    /// <summary>No groups but the default one.</summary>
    public static ConcurrencyGroups None { get; } = new(typeof(object), []);

    /// <summary>Whether the class declares groups besides the default one.</summary>
    public bool AnyDeclared => _declared.Count > 0;

    /// <summary>The groups of <paramref name="actorType"/>, read once per class.</summary>
    /// <exception cref="ArgumentException">The class declares a group wrongly, or a method names one it does not declare.</exception>
    public static ConcurrencyGroups Of(Type actorType) => s_byType.GetValue(actorType, Read);

    /// <summary>Each group's size, the default group's being <paramref name="maxConcurrency"/>.</summary>
    public Dictionary<string, int> Sizes(int maxConcurrency) =>
        new(_declared.Prepend(new(DefaultGroup, maxConcurrency)), StringComparer.Ordinal);

    /// <summary>
    /// The group a method's calls run in: the group its implementation in the actor's class names.
    /// A call made through an interface or a base class names the interface's or base's method.
    /// </summary>
    /// <exception cref="ArgumentException">The method names a group wrongly (checked for the class's own methods when it was read).</exception>
    public string GroupOf(MethodBase method) => _methodGroups.GetOrAdd(method, m => ReadGroupOf(ImplementationOf(m)));

    /// <summary>Why a call cannot run in <paramref name="group"/>, or null when the class has it.</summary>
    public string? RefuseGroup(string group) => group == DefaultGroup || _declared.ContainsKey(group)
        ? null
        : $"actor class {_actorType} has no concurrency group '{group}'; its groups: {string.Join(", ", _declared.Keys.Prepend(DefaultGroup))}";

    private static ConcurrencyGroups Read(Type actorType)
    {
        var declared = new Dictionary<string, int>(StringComparer.Ordinal);
        // A derived class may repeat what its base declares: the same declaration is one.
        foreach (var group in actorType.GetCustomAttributes<ConcurrencyGroupAttribute>(inherit: true).DistinctBy(g => (g.Name, g.MaxConcurrency)))
        {
            var name = group.Name;
            if (string.IsNullOrWhiteSpace(name))
            {
                throw new ArgumentException($"actor class {actorType} declares a concurrency group without a name");
            }

            if (group.MaxConcurrency < 1)
            {
                throw new ArgumentException(group.MaxConcurrency == 0
                    ? $"actor class {actorType} declares concurrency group '{name}' without its size: [ConcurrencyGroup(\"{name}\", N)] runs up to N of its calls at once"
                    : $"actor class {actorType} gives concurrency group '{name}' size {group.MaxConcurrency}; a group runs 1 or more calls at once");
            }

            if (name == DefaultGroup || !declared.TryAdd(name, group.MaxConcurrency))
            {
                throw new ArgumentException(name == DefaultGroup
                    ? $"actor class {actorType} declares concurrency group '{DefaultGroup}', the name of the group of methods that name none (sized by {nameof(ActorOptions)}.{nameof(ActorOptions.MaxConcurrency)})"
                    : $"actor class {actorType} declares concurrency group '{name}' twice");
            }
        }

        var groups = new ConcurrencyGroups(actorType, declared);
        foreach (var method in actorType.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance))
        {
            // Every method now, so that a mistake in any is found when the actor is created, not at its first call.
            groups.GroupOf(method);
        }

        return groups;
    }

    private MethodBase ImplementationOf(MethodBase method)
    {
        if (method is not MethodInfo { DeclaringType: { } declaring } called || declaring == _actorType || !declaring.IsAssignableFrom(_actorType))
        {
            return method;
        }

        var definition = called.IsGenericMethod ? called.GetGenericMethodDefinition() : called;
        if (declaring.IsInterface)
        {
            var map = _actorType.GetInterfaceMap(declaring);
            var index = Array.FindIndex(map.InterfaceMethods, m => m.HasSameMetadataDefinitionAs(definition));
            return index >= 0 ? map.TargetMethods[index] : method;
        }

        if (!definition.IsVirtual)
        {
            return method;
        }

        // The class's most derived override: GetMethods lists it in place of those it overrides.
        var baseDefinition = definition.GetBaseDefinition();
        return _actorType.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)
            .FirstOrDefault(m => m.GetBaseDefinition().HasSameMetadataDefinitionAs(baseDefinition)) ?? method;
    }

    private string ReadGroupOf(MethodBase method)
    {
        var named = method.GetCustomAttributes<ConcurrencyGroupAttribute>(inherit: true).DistinctBy(g => (g.Name, g.MaxConcurrency)).ToList();
        if (named.Count == 0)
        {
            return DefaultGroup;
        }

        var where = $"{method.DeclaringType}.{method.Name}";
        if (named.Count > 1)
        {
            throw new ArgumentException($"{where} names {named.Count} concurrency groups; a method runs in one");
        }

        var name = named[0].Name;
        if (named[0].MaxConcurrency != 0)
        {
            throw new ArgumentException(
                $"{where} gives concurrency group '{name}' a size; the class declares it ([ConcurrencyGroup(\"{name}\", {named[0].MaxConcurrency})]) and the method names it ([ConcurrencyGroup(\"{name}\")])");
        }

        return RefuseGroup(name) is { } refused ? throw new ArgumentException($"{where}: {refused}") : name;
    }
}
