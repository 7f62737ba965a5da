using System.Security.Cryptography;
using System.Text;

namespace PublishingPoint.Server.Configuration;

/// <summary>Compares a presented secret with the configured one in time that tells nothing of either, not even its length.</summary>
internal static class Secrets
{
    public static bool Match(string presented, string secret)
    {
        ArgumentNullException.ThrowIfNull(presented);
        ArgumentNullException.ThrowIfNull(secret);
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
    }
}
