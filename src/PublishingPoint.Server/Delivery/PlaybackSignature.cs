using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace PublishingPoint.Server.Delivery;

/// <summary>
/// Signed, expiring playback URLs that a CDN can pass through untouched:
/// <c>/s/{expiry}/{signature}/{point}.isml/...</c>, where expiry is Unix seconds and signature is the hex
/// HMAC-SHA256 of "{expiry}/{point}" under PublishingPoint:PlaybackSigningKey. The token sits in the path, so
/// every relative URL of a manifest or playlist (segments, media playlists) carries it without rewriting.
/// </summary>
public static class PlaybackSignature
{
    public const string Prefix = "/s/";

    public static string Sign(string key, string point, long expiry)
    {
        ArgumentNullException.ThrowIfNull(key);
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes($"{expiry.ToString(CultureInfo.InvariantCulture)}/{point}"));
        return Convert.ToHexStringLower(mac);
    }

    public static string SignedPrefix(string key, string point, long expiry) =>
        $"{Prefix}{expiry.ToString(CultureInfo.InvariantCulture)}/{Sign(key, point, expiry)}/{point}/";

    /// <summary>Splits "/s/{expiry}/{signature}/rest" into its parts; false when the path has no such prefix.</summary>
    public static bool TrySplit(string path, out long expiry, out string signature, out string rest)
    {
        expiry = 0;
        signature = string.Empty;
        rest = path;
        if (!path.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var parts = path[Prefix.Length..].Split('/', 3);
        if (parts.Length < 3 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out expiry))
        {
            return false;
        }

        signature = parts[1];
        rest = "/" + parts[2];
        return true;
    }

    public static bool Verify(string key, string point, long expiry, string signature, DateTimeOffset now, out string? problem)
    {
        problem = null;
        if (expiry < now.ToUnixTimeSeconds())
        {
            problem = "the signed URL has expired";
            return false;
        }

        var expected = Encoding.ASCII.GetBytes(Sign(key, point, expiry));
        if (!CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(signature.ToLowerInvariant())))
        {
            problem = "the URL signature does not match";
            return false;
        }

        return true;
    }
}
