namespace DepLib;

/// <summary>Reports which version of the library is loaded.</summary>
public static class Info
{
    public static string Describe() => $"DepLib {typeof(Info).Assembly.GetName().Version}";
}
