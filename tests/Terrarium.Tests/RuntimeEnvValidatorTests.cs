using Terrarium.Internal;

namespace Terrarium.Tests;

public sealed class RuntimeEnvValidatorTests
{
    [Theory]
    [InlineData("")]
    [InlineData("A=B")]
    public void Validate_BadVariableName_NamesIt(string name)
    {
        var env = new RuntimeEnv { EnvVars = new Dictionary<string, string> { [name] = "x" } };

        var error = Assert.Throws<ArgumentException>(() => RuntimeEnvValidator.Validate(env, "env"));

        Assert.Contains($"invalid variable name '{name}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ReservedPrefix_IsRefused()
    {
        var env = new RuntimeEnv { EnvVars = new Dictionary<string, string> { ["TERRARIUM_TOKEN"] = "x" } };

        var error = Assert.Throws<ArgumentException>(() => RuntimeEnvValidator.Validate(env, "env"));

        Assert.Contains("reserved", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NonPositiveTimeout_IsRefused()
    {
        var env = new RuntimeEnv { Config = new RuntimeEnvConfig { SetupTimeoutSeconds = 0 } };

        var error = Assert.Throws<ArgumentException>(() => RuntimeEnvValidator.Validate(env, "env"));

        Assert.Contains("setup_timeout_seconds must be positive", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_FieldNotSupportedYet_SaysSoInsteadOfIgnoringIt()
    {
        var env = new RuntimeEnv { Pip = ["requests"] };

        var error = Assert.Throws<ArgumentException>(() => RuntimeEnvValidator.Validate(env, "env"));

        Assert.Contains("'pip' is not supported yet", error.Message, StringComparison.Ordinal);
    }
}
