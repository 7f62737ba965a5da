using System.Net;

namespace PublishingPoint.Server.Configuration;

/// <summary>
/// Wrong secrets (ingest secrets, the operator key) per client address, IPv6 by its /64: once an address has presented
/// <c>MaxWrongSecretsPerMinute</c> wrong ones within a minute, every secret it presents is refused unchecked (429 with
/// Retry-After) until a minute after the last wrong one, so that no one can try secrets at the rate the server answers.
/// A right secret from an address that is not barred is never held up; the trusted proxies are not counted (their
/// clients are, by the address the proxy names). At most <see cref="MaxAddresses"/> addresses are followed: past that,
/// the ones whose minute has run out are forgotten, and a new one is not followed until there is room.
/// </summary>
internal sealed partial class WrongSecrets(int maxPerMinute, IPNetwork[] trustedProxies, TimeProvider time, ILogger<WrongSecrets> logger)
{
    public const int MaxAddresses = 10_000;
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    public const string Refusal = "too many wrong secrets from this address: every secret it presents is refused until Retry-After has passed";

    private readonly Dictionary<UInt128, Entry> _entries = [];
    private readonly Lock _lock = new();
    private readonly LogGate _barredLines = new(TimeSpan.FromSeconds(10));

    private sealed class Entry
    {
        public DateTimeOffset Since;
        public DateTimeOffset Last;
        public int Count;
    }

    /// <summary>Addresses followed now (for tests and bounds).</summary>
    public int Addresses
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>True when <paramref name="address"/> may not present a secret now; <paramref name="retryAfter"/> is then how long until it may.</summary>
    public bool Barred(IPAddress? address, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (maxPerMinute <= 0 || address is null || ClientNetwork.LimitedKey(address, trustedProxies) is not { } key)
        {
            return false;
        }

        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out var entry) || entry.Count < maxPerMinute || now - entry.Last >= Window)
            {
                return false;
            }

            retryAfter = entry.Last + Window - now;
            return true;
        }
    }

    /// <summary>Counts a wrong secret from <paramref name="address"/>: a minute after its first (or, once barred, its last) the count starts again.</summary>
    public void Wrong(IPAddress? address)
    {
        if (maxPerMinute <= 0 || address is null || ClientNetwork.LimitedKey(address, trustedProxies) is not { } key)
        {
            return;
        }

        var now = time.GetUtcNow();
        bool barred;
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out var entry))
            {
                if (_entries.Count >= MaxAddresses && !ForgetRunOut(now))
                {
                    return;
                }

                entry = new Entry { Since = now };
                _entries[key] = entry;
            }
            else if (now - entry.Last >= Window || (now - entry.Since >= Window && entry.Count < maxPerMinute))
            {
                entry.Since = now;
                entry.Count = 0;
            }

            entry.Last = now;
            entry.Count++;
            barred = entry.Count == maxPerMinute;
        }

        if (barred && _barredLines.Pass(out var held))
        {
            Log(logger, address, maxPerMinute, held);
        }
    }

    private bool ForgetRunOut(DateTimeOffset now)
    {
        foreach (var (key, entry) in _entries)
        {
            if (now - entry.Last >= Window)
            {
                _entries.Remove(key);
            }
        }

        return _entries.Count < MaxAddresses;
    }

    /// <summary>
    /// Checks <paramref name="presented"/> against <paramref name="secret"/> for the request's client: 429 with Retry-After,
    /// unchecked, while its address is barred; 403 for a wrong one, which is counted. Without a tracker (no host), only compares.
    /// </summary>
    public static bool Check(HttpContext context, string presented, string secret, out int status)
    {
        ArgumentNullException.ThrowIfNull(context);
        var tracker = context.RequestServices?.GetService<WrongSecrets>();
        var address = context.Connection.RemoteIpAddress;
        if (tracker is not null && tracker.Barred(address, out var retryAfter))
        {
            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            status = StatusCodes.Status429TooManyRequests;
            return false;
        }

        if (!Secrets.Match(presented, secret))
        {
            tracker?.Wrong(address);
            status = StatusCodes.Status403Forbidden;
            return false;
        }

        status = StatusCodes.Status200OK;
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Address} presented {Max} wrong secrets within a minute: its secrets are refused (429) until a minute after its last wrong one; {Held} other address(es) were barred since the last such line (PublishingPoint:MaxWrongSecretsPerMinute)")]
    private static partial void Log(ILogger logger, IPAddress address, int max, long held);
}
