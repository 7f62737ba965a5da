using System.Security.Cryptography;
using System.Text;

namespace PublishingPoint.Server.Ingest;

/// <summary>
/// Ingest secret check: the encoder presents the secret as <c>?token=SECRET</c> on the URL, or as the password of
/// HTTP basic auth (<c>http://user:SECRET@host/...</c>, which ffmpeg supports). No secret configured: open.
/// </summary>
internal static class IngestAuthorization
{
    public static bool Check(HttpContext context, string? secret, out int status)
    {
        status = StatusCodes.Status200OK;
        if (string.IsNullOrEmpty(secret))
        {
            return true;
        }

        var presented = context.Request.Query["token"].ToString();
        if (presented.Length == 0 && BasicPassword(context) is { } password)
        {
            presented = password;
        }

        if (presented.Length == 0)
        {
            context.Response.Headers.WWWAuthenticate = "Basic realm=\"ingest\"";
            status = StatusCodes.Status401Unauthorized;
            return false;
        }

        if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(secret)))
        {
            status = StatusCodes.Status403Forbidden;
            return false;
        }

        return true;
    }

    /// <summary>The password of an "Authorization: Basic" header, if there is one.</summary>
    public static string? BasicPassword(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        try
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..].Trim()));
            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            return colon < 0 ? null : decoded[(colon + 1)..];
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
