using System.Net;

namespace PublishingPoint.Server.Hosting;

/// <summary>
/// Safe defaults on the network: a server that listens beyond loopback must have an ingest secret and an operator
/// key, unless a setting says explicitly that anonymous ingest or key-less operators are wanted. Read from the
/// same configuration Kestrel binds from (Urls, HTTP_PORTS/HTTPS_PORTS, Kestrel:Endpoints), before anything listens.
/// </summary>
internal static class ExposureCheck
{
    public const string AllowAnonymousIngestKey = "PublishingPoint:AllowAnonymousIngest";
    public const string AllowAnonymousOperatorKey = "PublishingPoint:AllowAnonymousOperator";

    /// <summary>The shortest IngestSecret or AdminApiKey a server listening beyond loopback takes.</summary>
    public const int MinimumPublicSecretLength = 16;

    /// <summary>Why the server must not start with this configuration; empty when it may.</summary>
    public static IReadOnlyList<string> Refusals(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var urls = ListenUrls(configuration).ToArray();
        var exposed = urls.Where(u => !IsLocal(u)).ToArray();
        // A Unix socket is there for a relay (nginx's proxy_pass) to reach, and one that adds no forwarding header makes
        // every pusher look local: for ingest it counts as public.
        var relayed = exposed.Concat(urls.Where(IsUnixSocket)).ToArray();
        if (relayed.Length == 0)
        {
            return [];
        }

        var refusals = new List<string>();
        var ingestSecret = configuration["PublishingPoint:IngestSecret"];
        if (string.IsNullOrEmpty(ingestSecret) && !configuration.GetValue<bool>(AllowAnonymousIngestKey))
        {
            refusals.Add($"listening on {Where(relayed)} without PublishingPoint:IngestSecret, anyone could push or end a stream: "
                + $"set PublishingPoint:IngestSecret, or {AllowAnonymousIngestKey}=true if anonymous ingest is wanted");
        }

        var adminKey = configuration["PublishingPoint:AdminApiKey"];
        if (exposed.Length > 0 && string.IsNullOrEmpty(adminKey) && !configuration.GetValue<bool>(AllowAnonymousOperatorKey))
        {
            refusals.Add($"listening on {Where(exposed)} without PublishingPoint:AdminApiKey, the operator API would rest on the client's address alone: "
                + $"set PublishingPoint:AdminApiKey, or {AllowAnonymousOperatorKey}=true to keep key-less operator access for direct loopback clients");
        }

        // A secret anyone on the internet may try guesses against: not a word.
        foreach (var (name, value, where) in new[] { ("PublishingPoint:IngestSecret", ingestSecret, relayed), ("PublishingPoint:AdminApiKey", adminKey, exposed) })
        {
            if (where.Length > 0 && !string.IsNullOrEmpty(value) && value.Trim().Length < MinimumPublicSecretLength)
            {
                refusals.Add($"listening on {Where(where)} with a {name} of fewer than {MinimumPublicSecretLength} characters: use a long random string");
            }
        }

        return refusals;
    }

    private static string Where(string[] urls) =>
        string.Join(", ", urls) + (urls.All(IsUnixSocket) ? " (a Unix socket, reached through whatever relays to it)" : " (beyond loopback)");

    /// <summary>A warning worth logging at start for this configuration, if any.</summary>
    public static string? HostWarning(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        if (ListenUrls(configuration).All(IsLocal))
        {
            return null;
        }

        var hosts = (configuration["AllowedHosts"] ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (hosts.Length == 0 || hosts.Contains("*"))
        {
            return "AllowedHosts is '*' while listening beyond loopback: any Host header is answered (DNS rebinding); set AllowedHosts to the names viewers and encoders use";
        }

        return hosts.All(h => h is "localhost" or "127.0.0.1" or "[::1]")
            ? "AllowedHosts names only loopback while listening beyond loopback: remote clients get 400; set AllowedHosts to the names viewers and encoders use"
            : null;
    }

    /// <summary>The URLs Kestrel will bind, as it reads them; its own default when none is configured.</summary>
    public static IEnumerable<string> ListenUrls(IConfiguration configuration)
    {
        var urls = new List<string>();
        foreach (var key in new[] { "urls", "ASPNETCORE_URLS" })
        {
            urls.AddRange((configuration[key] ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }

        foreach (var (key, scheme) in new[] { ("http_ports", "http"), ("https_ports", "https"), ("ASPNETCORE_HTTP_PORTS", "http"), ("ASPNETCORE_HTTPS_PORTS", "https") })
        {
            foreach (var port in (configuration[key] ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                urls.Add($"{scheme}://*:{port}");
            }
        }

        foreach (var endpoint in configuration.GetSection("Kestrel:Endpoints").GetChildren())
        {
            if (endpoint["Url"] is { Length: > 0 } url)
            {
                urls.Add(url);
            }
        }

        return urls.Count == 0 ? ["http://localhost:5000"] : urls.Distinct(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Loopback addresses, "localhost" and Unix sockets; Kestrel binds every other host name to all interfaces. Read by
    /// ASP.NET Core's own parser of listen addresses, so "unix:" counts only where Kestrel takes it as a socket
    /// (http://unix:8080 is host "unix" on every interface); what it cannot parse counts as public.
    /// </summary>
    public static bool IsLocal(string url)
    {
        if (Parse(url) is not { } address)
        {
            return false;
        }

        if (address.IsUnixPipe)
        {
            return true;
        }

        var host = address.Host.TrimStart('[').TrimEnd(']');
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
    }

    private static bool IsUnixSocket(string url) => Parse(url)?.IsUnixPipe == true;

    // What Kestrel would bind, or null for what it cannot parse.
    private static BindingAddress? Parse(string url)
    {
        try
        {
            return BindingAddress.Parse(url);
        }
        catch (FormatException)
        {
            return null;
        }
    }
}

/// <summary>The configuration is not safe or not valid: the server stops before it listens (already logged).</summary>
public sealed class StartupRefusedException : Exception
{
    public StartupRefusedException()
    {
    }

    public StartupRefusedException(string message) : base(message)
    {
    }

    public StartupRefusedException(string message, Exception innerException) : base(message, innerException)
    {
    }

}
