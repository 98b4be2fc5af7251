using System.Globalization;

namespace Terrarium.Protocol;

/// <summary>Byte counts as people read them, in every message and table that shows one.</summary>
public static class Sizes
{
    /// <summary><paramref name="bytes"/> in KiB, MiB or GiB.</summary>
    public static string Format(long bytes) => bytes switch
    {
        < 1 << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.#} KiB"),
        < 1 << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:0.#} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1073741824.0:0.##} GiB"),
    };
}
