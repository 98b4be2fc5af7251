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

    /// <summary>Reads a size: bytes, or a number with KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB.</summary>
    /// <exception cref="FormatException">It is not a size; the message shows what one looks like.</exception>
    public static long Parse(string text)
    {
        var units = new (string Suffix, long Factor)[]
        {
            ("TiB", 1L << 40), ("GiB", 1L << 30), ("MiB", 1L << 20), ("KiB", 1L << 10),
            ("TB", 1_000_000_000_000), ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1_000), ("B", 1),
        };
        text = text.Trim();
        var (suffix, factor) = units.FirstOrDefault(u => text.EndsWith(u.Suffix, StringComparison.OrdinalIgnoreCase), ("", 1));
        return double.TryParse(text[..^suffix.Length].Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number) && number * factor is >= 0 and <= long.MaxValue
            ? (long)(number * factor)
            : throw new FormatException($"'{text}' is not a size (such as 500MB, 10GB or 2GiB)");
    }
}
