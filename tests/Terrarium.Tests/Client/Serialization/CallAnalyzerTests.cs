using System.Linq.Expressions;
using Terrarium.Serialization;

namespace Terrarium.Tests.Client.Serialization;

public sealed class CallAnalyzerTests
{
    [Fact]
    public void AnalyzeStaticCall_EvaluatesArgumentsAtSubmission()
    {
        var x = 3;
        Expression<Func<int>> call = () => Sample.Add(x, 4 + 1);

        var analyzed = CallAnalyzer.AnalyzeStaticCall(call, "call");

        Assert.Equal("Add", analyzed.Function.Method);
        Assert.Equal(typeof(Sample).FullName, analyzed.Function.Type);
        Assert.Equal(["System.Int32", "System.Int32"], analyzed.Function.ParameterTypes);
        Assert.Equal(3, Serializer.Deserialize<int>(analyzed.Args[0].Value!.Memory));
        Assert.Equal(5, Serializer.Deserialize<int>(analyzed.Args[1].Value!.Memory));
    }

    [Fact]
    public void AnalyzeStaticCall_NotACall_ThrowsArgumentExceptionShowingTheExpression()
    {
        int a = 1, b = 2;
        Expression<Func<int>> call = () => a + b;

        var error = Assert.Throws<ArgumentException>(() => CallAnalyzer.AnalyzeStaticCall(call, "call"));

        Assert.Contains("one call of a static method", error.Message, StringComparison.Ordinal);
        Assert.Equal("call", error.ParamName);
    }

    [Fact]
    public void AnalyzeStaticCall_InstanceMethodOnLocal_ThrowsArgumentException()
    {
        var text = "hello";
        Expression<Func<string>> call = () => text.ToUpperInvariant();

        Assert.Throws<ArgumentException>(() => CallAnalyzer.AnalyzeStaticCall(call, "call"));
    }

    [Fact]
    public void AnalyzeStaticCall_UnserializableArgument_NamesTheArgumentAndType()
    {
        var stream = new MemoryStream();
        Expression<Func<long>> call = () => Sample.Length(stream);

        var error = Assert.Throws<ArgumentException>(() => CallAnalyzer.AnalyzeStaticCall(call, "call"));

        Assert.Contains("argument 'stream'", error.Message, StringComparison.Ordinal);
        Assert.Contains("System.IO.Stream", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnalyzeStaticCall_GenericMethod_RecordsDefinitionParametersAndTypeArguments()
    {
        Expression<Func<string>> call = () => Sample.Echo("x");

        var analyzed = CallAnalyzer.AnalyzeStaticCall(call, "call");

        Assert.Equal(["T"], analyzed.Function.ParameterTypes);
        Assert.Equal(typeof(string).AssemblyQualifiedName, Assert.Single(analyzed.Function.GenericArguments));
    }

    [Fact]
    public void AnalyzeStaticCall_RefParameter_ThrowsArgumentException()
    {
        Expression<Func<int>> call = () => Sample.WithIn(5);

        var error = Assert.Throws<ArgumentException>(() => CallAnalyzer.AnalyzeStaticCall(call, "call"));

        Assert.Contains("by reference", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnalyzeConstructor_NewExpression_DescribesConstructor()
    {
        Expression<Func<Sample.Box>> create = () => new Sample.Box(7);

        var analyzed = CallAnalyzer.AnalyzeConstructor(create, "constructor");

        Assert.Equal(".ctor", analyzed.Function.Method);
        Assert.Equal(typeof(Sample.Box).FullName, analyzed.Function.Type);
        Assert.Equal(7, Serializer.Deserialize<int>(analyzed.Args[0].Value!.Memory));
    }

    [Fact]
    public void AnalyzeConstructor_NotANewExpression_ThrowsArgumentException()
    {
        Expression<Func<Sample.Box>> create = () => Sample.MakeBox();

        Assert.Throws<ArgumentException>(() => CallAnalyzer.AnalyzeConstructor(create, "constructor"));
    }

    [Fact]
    public void AnalyzeInstanceCall_MethodOfParameter_Describes()
    {
        Expression<Func<Sample.Box, int>> call = b => b.Plus(2);

        var analyzed = CallAnalyzer.AnalyzeInstanceCall(call, "call");

        Assert.Equal("Plus", analyzed.Function.Method);
    }

    [Fact]
    public void AnalyzeInstanceCall_ArgumentUsesTheActor_ThrowsArgumentException()
    {
        Expression<Func<Sample.Box, int>> call = b => b.Plus(b.Value);

        var error = Assert.Throws<ArgumentException>(() => CallAnalyzer.AnalyzeInstanceCall(call, "call"));

        Assert.Contains("uses the actor itself", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnalyzeInstanceCall_CallOnSomethingElse_ThrowsArgumentException()
    {
        var other = new Sample.Box(1);
        Expression<Func<Sample.Box, int>> call = b => other.Plus(1);

        Assert.Throws<ArgumentException>(() => CallAnalyzer.AnalyzeInstanceCall(call, "call"));
    }

    public static class Sample
    {
        public static int Add(int a, int b) => a + b;

        public static long Length(Stream stream) => stream.Length;

        public static T Echo<T>(T value) => value;

        public static int WithIn(in int value) => value;

        public static Box MakeBox() => new(0);

        public sealed class Box(int value)
        {
            public int Value { get; } = value;

            public int Plus(int x) => Value + x;
        }
    }
}
