using StackExchange.Redis;

namespace Terrarium.Head.State;

/// <summary>
/// Where the head's Redis is and how to log in: <c>redis://[user[:password]@]host[:port][/db]</c>
/// (<c>rediss://</c> for TLS), as Redis clients write it, or a StackExchange.Redis configuration
/// string (<c>host:port,password=…</c>). Credentials never appear in what <see cref="Describe"/> says.
/// </summary>
internal static class RedisAddress
{
    /// <exception cref="ArgumentException">The address is neither form.</exception>
    public static ConfigurationOptions Parse(string address)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        if (!address.StartsWith("redis://", StringComparison.OrdinalIgnoreCase) && !address.StartsWith("rediss://", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                return ConfigurationOptions.Parse(address);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"Redis address '{Describe(address)}' is neither redis://[user:password@]host:port nor a StackExchange.Redis configuration: {e.Message}", nameof(address), e);
            }
        }

        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.Host.Length == 0 || uri.Query.Length > 0 || uri.Fragment.Length > 0)
        {
            throw new ArgumentException($"Redis address '{Describe(address)}' is not redis://[user[:password]@]host[:port][/db]", nameof(address));
        }

        var options = new ConfigurationOptions { Ssl = uri.Scheme == "rediss" };
        options.EndPoints.Add(uri.Host.Trim('[', ']'), uri.IsDefaultPort || uri.Port < 0 ? 6379 : uri.Port);
        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            var user = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            var password = colon < 0 ? null : Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            // redis://:password@host is the password of the default user, as redis-cli reads it.
            options.User = user.Length > 0 && password is not null ? user : null;
            options.Password = password ?? (user.Length > 0 ? user : null);
        }

        var path = uri.AbsolutePath.Trim('/');
        if (path.Length > 0)
        {
            options.DefaultDatabase = int.TryParse(path, System.Globalization.CultureInfo.InvariantCulture, out var db) && db >= 0
                ? db
                : throw new ArgumentException($"Redis address '{Describe(address)}': the database '{path}' is not a number", nameof(address));
        }

        return options;
    }

    /// <summary>The address without its password, for messages and logs: what stands between <c>://</c> and the last <c>@</c> is hidden as it is written.</summary>
    public static string Describe(string address)
    {
        var scheme = address.IndexOf("://", StringComparison.Ordinal);
        var at = address.LastIndexOf('@');
        if (scheme >= 0 && at > scheme)
        {
            var userInfo = address[(scheme + 3)..at];
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            return address[..(scheme + 3)] + (colon >= 0 ? userInfo[..colon] + ":***" : "***") + address[at..];
        }

        var parts = address.Split(',');
        return string.Join(',', parts.Select(p => p.TrimStart().StartsWith("password=", StringComparison.OrdinalIgnoreCase) ? "password=***" : p));
    }
}
