using Terrarium.Protocol.RuntimeEnvs;
using Terrarium.Protocol.RuntimeEnvs.Fields;

namespace Terrarium.Tests.Protocol.RuntimeEnvs;

public sealed class PipInstallOptionsTests
{
    [Theory]
    [InlineData("--target")]
    [InlineData("--target=/tmp/x")]
    [InlineData("--targ=/tmp/x")]
    [InlineData("-t")]
    [InlineData("-t/tmp/x")]
    [InlineData("-qt")]
    [InlineData("--prefix=/usr")]
    [InlineData("--root")]
    [InlineData("--user")]
    [InlineData("--src=/tmp/src")]
    [InlineData("--log=/etc/cron.d/x")]
    [InlineData("--cache-dir=/tmp/pip")]
    [InlineData("-r")]
    [InlineData("-e")]
    [InlineData("--python=/usr/bin/python3")]
    [InlineData("--install-option=--prefix=/anywhere")]
    [InlineData("--global-option")]
    public void Refusal_OptionThatWritesOrReadsOutsideTheVenv_IsNamed(string option) =>
        Assert.Contains($"'{option}'", PipInstallOptions.Refusal(option), StringComparison.Ordinal);

    [Theory]
    [InlineData("--no-index")]
    [InlineData("--find-links")]
    [InlineData("-f")]
    [InlineData("--pre")]
    [InlineData("--progress-bar=off")]
    [InlineData("--no-cache-dir")]
    [InlineData("--index-url=https://pypi.example/simple")]
    [InlineData("-i")]
    [InlineData("-U")]
    [InlineData("-ihttps://pypi.example/simple")]
    [InlineData("-qf/srv/wheels")]
    [InlineData("--root-user-action=ignore")]
    [InlineData("/tmp/wheels")]
    [InlineData("requests==2.31")]
    public void Refusal_OptionThatStaysInTheVenv_IsNone(string option) => Assert.Null(PipInstallOptions.Refusal(option));

    [Theory]
    [InlineData("requests --install-option=--prefix=/anywhere", "--install-option")]
    [InlineData("-r /etc/shadow", "-r")]
    public void LineRefusal_RequirementLineWithARefusedOption_AnywhereOnIt_IsNamed(string line, string option) =>
        Assert.Contains($"'{option}", PipInstallOptions.LineRefusal(line), StringComparison.Ordinal);

    [Fact]
    public void Validate_EnvWithARefusedInstallOption_IsArgumentExceptionNamingIt()
    {
        var env = new RuntimeEnv { Pip = new PipSpec { Packages = ["requests"], InstallOptions = ["--no-index", "--target", "/tmp/x"] } };

        var error = Assert.Throws<ArgumentException>(() => RuntimeEnvValidator.Validate(env, "options"));

        Assert.Contains("runtime_env.pip.install_options[1]: '--target' (--target) would make pip install or write outside", error.Message, StringComparison.Ordinal);
    }
}
