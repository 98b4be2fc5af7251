using Terrarium.Packaging;
using Terrarium.Protocol.RuntimeEnvs;

namespace Terrarium.Tests.Protocol.RuntimeEnvs;

public sealed class RuntimeEnvMergeTests
{
    [Fact]
    public void Merge_EnvVars_MergeKeyByKeyWithTheSpecificWinning()
    {
        var job = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["A"] = "job", ["B"] = "job" } };
        var task = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["B"] = "task", ["C"] = "task" } };

        var merged = RuntimeEnvMerge.Merge(job, task)!;

        Assert.Equal(new Dictionary<string, string> { ["A"] = "job", ["B"] = "task", ["C"] = "task" }, merged.EnvVars);
    }

    [Fact]
    public void Merge_EmptyListInTheSpecificEnv_IsNotSet_SoTheBaseApplies()
    {
        var job = new RuntimeEnv { Excludes = ["*.log"], Modules = ["lib/"] };
        var task = new RuntimeEnv { Excludes = [], Modules = [] };

        var merged = RuntimeEnvMerge.Merge(job, task)!;

        Assert.Equal(["*.log"], merged.Excludes);
        Assert.Equal(["lib/"], merged.Modules);
    }

    [Fact]
    public void Merge_OtherFields_OverrideWhole()
    {
        var job = new RuntimeEnv { NuGet = ["A@1.0.0", "B@1.0.0"], WorkingDir = "job/" };
        var task = new RuntimeEnv { NuGet = ["A@2.0.0"] };

        var merged = RuntimeEnvMerge.Merge(job, task)!;

        Assert.Equal(["A@2.0.0"], merged.NuGet!.Packages);
        Assert.Equal("job/", merged.WorkingDir);
    }

    [Fact]
    public void Merge_NoSpecific_KeepsTheBase()
    {
        var job = new RuntimeEnv { WorkingDir = "job/" };

        Assert.Same(job, RuntimeEnvMerge.Merge(job, null));
        Assert.Null(RuntimeEnvMerge.Merge(null, null));
    }

    [Fact]
    public void Hash_SameContentInAnyOrder_IsTheSame_AndDiffersWhenAValueChanges()
    {
        var a = ResolvedEnv.From(new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["X"] = "1", ["Y"] = "2" } });
        var b = ResolvedEnv.From(new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["Y"] = "2", ["X"] = "1" } });
        var c = ResolvedEnv.From(new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["X"] = "1", ["Y"] = "3" } });

        Assert.Equal(a.Hash, b.Hash);
        Assert.NotEqual(a.Hash, c.Hash);
        Assert.Equal(64, a.Hash.Length);
    }

    [Fact]
    public void Hash_EmptyEnv_IsEmpty_SoItSharesWorkersWithNoEnv()
    {
        Assert.Equal("", ResolvedEnv.From(new RuntimeEnv()).Hash);
        Assert.Equal("", ResolvedEnv.From(new RuntimeEnv { EnvVars = null }).Hash);
    }
}
