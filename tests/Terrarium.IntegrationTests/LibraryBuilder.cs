using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Terrarium.IntegrationTests;

/// <summary>Compiles a small library at test time, so that the driver has never seen it.</summary>
public static class LibraryBuilder
{
    public static string Build(string directory, string assemblyName, string source, params string[] extraReferences)
    {
        Directory.CreateDirectory(directory);
        var runtime = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var references = new[] { "System.Runtime.dll", "System.Private.CoreLib.dll", "System.Console.dll", "System.Runtime.InteropServices.dll" }
            .Select(name => Path.Combine(runtime, name))
            .Concat(extraReferences)
            .Select(path => MetadataReference.CreateFromFile(path));
        var compilation = CSharpCompilation.Create(assemblyName, [CSharpSyntaxTree.ParseText(source)], references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        var path = Path.Combine(directory, assemblyName + ".dll");
        var result = compilation.Emit(path);
        if (!result.Success)
        {
            throw new InvalidOperationException("test library did not compile: " + string.Join("; ", result.Diagnostics));
        }

        return path;
    }
}
