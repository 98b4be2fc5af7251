using Terrarium.Node.RuntimeEnvs.NuGetPackages;
using Terrarium.Protocol;

namespace Terrarium.Tests.Node.RuntimeEnvs.NuGetPackages;

/// <summary>Which resolutions differ from the lowest version a package's range allows, and how they are told.</summary>
public sealed class VersionSubstitutionsTests
{
    [Theory]
    [InlineData("Serilog@2.12.0", "3.1.1", true)]
    [InlineData("Serilog@2.12.0", "2.12.0", false)]
    [InlineData("Serilog@2.12", "2.12.0", false)]
    [InlineData("Serilog@[2.0,3.0)", "2.5.0", true)]
    [InlineData("Serilog@[2.12.0]", "2.12.0", false)]
    [InlineData("Serilog@2.*", "2.12.0", false)]
    [InlineData("Serilog@(2.0,3.0)", "2.5.0", false)]
    [InlineData("Serilog", "3.1.1", false)]
    [InlineData("serilog@2.12.0", "3.1.1", true)]
    public void APackageResolvedAboveTheLowestVersionItsRangeAllows_IsASubstitution(string asked, string resolved, bool substituted)
    {
        var found = VersionSubstitutions.Find([asked], [new ResolvedNuGetPackage { Id = "Serilog", Version = resolved }]).ToList();

        Assert.Equal(substituted, found.Count == 1);
    }

    [Fact]
    public void ASubstitution_NamesThePackage_BothVersions_AndHowToPinIt()
    {
        var found = VersionSubstitutions.Find(["Polly@8.4.1", "DepLib@1.0.0"],
            [new ResolvedNuGetPackage { Id = "Polly", Version = "8.4.2" }, new ResolvedNuGetPackage { Id = "DepLib", Version = "1.0.0" }]).Single();

        Assert.Equal("Polly 8.4.1 was asked for ('Polly@8.4.1') and NuGet resolved 8.4.2: the feeds have no 8.4.1, " +
            "or another package needs a later one; 'Polly@[8.4.1]' asks for exactly 8.4.1", found);
    }
}
