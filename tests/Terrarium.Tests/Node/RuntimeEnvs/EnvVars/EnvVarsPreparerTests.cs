using Terrarium.Node.RuntimeEnvs.EnvVars;

namespace Terrarium.Tests.Node.RuntimeEnvs.EnvVars;

public sealed class EnvVarsPreparerTests
{
    [Fact]
    public async Task Variables_AreTheUsersOwn_WhichWinOverWhatOtherFieldsSet()
    {
        var setup = await new EnvVarsPreparer().PrepareAsync(new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["LOG_LEVEL"] = "debug" } }, null, CancellationToken.None);

        Assert.Equal("debug", setup.WinningEnvVars["LOG_LEVEL"]);
        Assert.Empty(setup.EnvVars);
    }

    [Fact]
    public void EnvWithoutTheField_IsNotPreparedByIt()
    {
        var preparer = new EnvVarsPreparer();

        Assert.False(preparer.IsSetIn(new RuntimeEnv { WorkingDir = "pkg://x" }));
        Assert.False(preparer.IsSetIn(new RuntimeEnv { EnvVars = new Dictionary<string, string>() }));
        Assert.True(preparer.IsSetIn(new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["A"] = "1" } }));
    }
}
