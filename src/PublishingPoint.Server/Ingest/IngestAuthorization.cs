using System.Text;

namespace PublishingPoint.Server.Ingest;

/// <summary>
/// Ingest secret check: the encoder presents the secret as <c>?token=SECRET</c> on the URL, or as the password of
/// HTTP basic auth (<c>http://user:SECRET@host/...</c>, which ffmpeg supports). No secret configured: open to encoders
/// on this machine (a direct loopback peer, no forwarding headers), unless PublishingPoint:AllowAnonymousIngest opens it
/// to any encoder; never to web pages.
/// </summary>
internal static class IngestAuthorization
{
    public const string FromAWebPage = "a web page cannot push without the ingest secret (the request carries an Origin header): set PublishingPoint:IngestSecret or the point's ingestSecret and present it";

    public const string Relayed = "ingest without a secret is open only to encoders on this machine: this request came from another address or through a proxy (forwarding headers); set PublishingPoint:IngestSecret (or AllowAnonymousIngest) and present it";

    /// <param name="anonymousAnywhere">PublishingPoint:AllowAnonymousIngest: without a secret, encoders anywhere may push.</param>
    /// <param name="target">Which secret it is, for counting wrong ones: the server's (<see cref="Configuration.WrongSecrets.ServerIngest"/>) or the point's own (its path).</param>
    public static bool Check(HttpContext context, string? secret, bool anonymousAnywhere, string target, out int status)
    {
        status = StatusCodes.Status200OK;
        if (string.IsNullOrEmpty(secret))
        {
            // Open ingest (loopback, or AllowAnonymousIngest) is for encoders, which send no Origin. A browser sends one
            // with every POST, PUT and DELETE, also the "simple" ones it makes for any page without asking the server
            // first: a page the operator visits could otherwise push to, and take over, a point on the loopback server.
            // And a loopback server behind a relay (a reverse proxy, a tunnel) would be open to whoever reaches the relay.
            if (context.Request.Headers.Origin.Count > 0 || !(anonymousAnywhere || Configuration.ClientNetwork.IsDirectLoopback(context, orNoAddress: true)))
            {
                status = StatusCodes.Status403Forbidden;
                return false;
            }

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

        return Configuration.WrongSecrets.Check(context, presented, secret, target, out status);
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
