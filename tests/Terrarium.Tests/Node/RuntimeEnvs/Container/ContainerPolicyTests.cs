using Terrarium.Node;

namespace Terrarium.Tests.Node.RuntimeEnvs.Container;

public sealed class ContainerPolicyTests
{
    [Theory]
    [InlineData("--privileged")]
    [InlineData("--volume=/:/host")]
    [InlineData("-v")]
    [InlineData("-v/:/host")]
    [InlineData("-itv")]
    [InlineData("--userns=host")]
    [InlineData("--env-file=/root/.config/terrarium/token")]
    public void PolicyRefusal_DeniedByDefault_NamesTheOptionAndHowToAllowIt(string option)
    {
        var refusal = new ContainerRuntimeOptions().PolicyRefusal(["--cpus=2", option], "node-a");

        Assert.NotNull(refusal);
        Assert.StartsWith($"run_options[1] '{option}' is refused by node node-a's container policy", refusal, StringComparison.Ordinal);
        Assert.Contains("--container-allow-option=--", refusal, StringComparison.Ordinal);
    }

    [Fact]
    public void PolicyRefusal_AllowedByTheOperator_OrHarmless_IsNone()
    {
        var allowing = new ContainerRuntimeOptions { AllowedRunOptions = ["--volume"] };

        Assert.Null(allowing.PolicyRefusal(["--volume", "/data:/data:ro", "-e", "A=1", "--cpus=2", "--user=1000", "--memory", "2g"], "node-a"));
    }

    [Fact]
    public void PolicyRefusal_DeniedByTheOperator_SaysSo()
    {
        var refusal = new ContainerRuntimeOptions { DeniedRunOptions = ["--memory"] }.PolicyRefusal(["--memory=64g"], "node-a");

        Assert.Equal("run_options[0] '--memory=64g' is refused by node node-a's container policy: its operator denies --memory (--container-deny-option)", refusal);
    }
}
