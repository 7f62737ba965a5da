using System.Net;

namespace PublishingPoint.Server.Configuration;

/// <summary>
/// Wrong secrets per client address (IPv6 by its /64) and per secret they were tried against (the server's ingest
/// secret, one point's own, the operator key): once an address has presented <c>MaxWrongSecretsPerMinute</c> wrong ones
/// for the same secret within a minute, every one it presents for that secret is refused unchecked (429 with
/// Retry-After) until a minute after the last wrong one, so that no one can try secrets at the rate the server answers.
/// An address that presented the right one within <see cref="Proven"/> is never barred for it: a stale encoder's old
/// secret, or a mistyped operator key, on a machine whose other encoders push with the right one does not stop them.
/// The trusted proxies are not counted (their clients are, by the address the proxy names). At most
/// <see cref="MaxAddresses"/> are followed: when full, the ones that ran out are forgotten (no sooner than the oldest can
/// have, so a flood costs a lookup each), and a new one is not followed until there is room.
/// </summary>
internal sealed partial class WrongSecrets(int maxPerMinute, IPNetwork[] trustedProxies, TimeProvider time, ILogger<WrongSecrets> logger)
{
    public const int MaxAddresses = 10_000;
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan Proven = TimeSpan.FromMinutes(10);
    public const string Refusal = "too many wrong secrets from this address: every secret it presents is refused until Retry-After has passed";

    /// <summary>What the server-wide ingest secret is counted as (a point's own is counted as its path).</summary>
    public const string ServerIngest = "ingest";

    /// <summary>What the operator key is counted as.</summary>
    public const string Operator = "operator";

    private readonly Dictionary<(UInt128 Address, string Target), Entry> _entries = [];
    private readonly Lock _lock = new();
    private readonly LogGate _barredLines = new(TimeSpan.FromSeconds(10));
    private DateTimeOffset _nextSweep;

    private sealed class Entry
    {
        public DateTimeOffset Since;
        public DateTimeOffset Last = DateTimeOffset.MinValue;
        public DateTimeOffset Right = DateTimeOffset.MinValue;
        public int Count;

        public DateTimeOffset RunsOut => Max(Last + Window, Right + Proven);

        private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;
    }

    /// <summary>Addresses and secrets followed now (for tests and bounds).</summary>
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

    /// <summary>
    /// Checks <paramref name="presented"/> against <paramref name="secret"/> for the request's client: 429 with Retry-After,
    /// unchecked, while its address is barred for it; 403 for a wrong one, which is counted. Without a tracker (no host), only compares.
    /// </summary>
    /// <param name="target">Which secret it is: <see cref="Operator"/>, <see cref="ServerIngest"/>, or the path of the point whose own it is.</param>
    public static bool Check(HttpContext context, string presented, string secret, string target, out int status)
    {
        ArgumentNullException.ThrowIfNull(context);
        var tracker = context.RequestServices?.GetService<WrongSecrets>();
        var address = context.Connection.RemoteIpAddress;
        if (tracker is not null && tracker.Barred(address, target, out var retryAfter))
        {
            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            status = StatusCodes.Status429TooManyRequests;
            return false;
        }

        var right = Secrets.Match(presented, secret);
        tracker?.Note(address, target, right);
        status = right ? StatusCodes.Status200OK : StatusCodes.Status403Forbidden;
        return right;
    }

    /// <summary>True when <paramref name="address"/> may not present <paramref name="target"/>'s secret now; <paramref name="retryAfter"/> is then how long until it may.</summary>
    public bool Barred(IPAddress? address, string target, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (Key(address, target) is not { } key)
        {
            return false;
        }

        var now = time.GetUtcNow();
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out var entry) || entry.Count < maxPerMinute || now - entry.Last >= Window || now - entry.Right < Proven)
            {
                return false;
            }

            retryAfter = entry.Last + Window - now;
            return true;
        }
    }

    /// <summary>
    /// Notes a secret <paramref name="address"/> presented for <paramref name="target"/>: a right one proves the address; a
    /// wrong one is counted, and a minute after the first (or, once barred, the last) the count starts again.
    /// </summary>
    public void Note(IPAddress? address, string target, bool right)
    {
        if (Key(address, target) is not { } key)
        {
            return;
        }

        var now = time.GetUtcNow();
        bool barred;
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out var entry))
            {
                if (_entries.Count >= MaxAddresses && (now < _nextSweep || !ForgetRunOut(now)))
                {
                    return;
                }

                entry = new Entry { Since = now };
                _entries[key] = entry;
            }

            if (right)
            {
                entry.Right = now;
                return;
            }

            if (now - entry.Last >= Window || (now - entry.Since >= Window && entry.Count < maxPerMinute))
            {
                entry.Since = now;
                entry.Count = 0;
            }

            entry.Last = now;
            entry.Count++;
            barred = entry.Count == maxPerMinute && now - entry.Right >= Proven;
        }

        if (barred && _barredLines.Pass(out var held))
        {
            Log(logger, address!, maxPerMinute, target, held);
        }
    }

    private (UInt128, string)? Key(IPAddress? address, string target) =>
        maxPerMinute > 0 && address is not null && ClientNetwork.LimitedKey(address, trustedProxies) is { } a ? (a, target) : null;

    private bool ForgetRunOut(DateTimeOffset now)
    {
        var oldest = DateTimeOffset.MaxValue;
        foreach (var (key, entry) in _entries)
        {
            var runsOut = entry.RunsOut;
            if (now >= runsOut)
            {
                _entries.Remove(key);
            }
            else if (runsOut < oldest)
            {
                oldest = runsOut;
            }
        }

        _nextSweep = _entries.Count >= MaxAddresses ? oldest : now;
        return _entries.Count < MaxAddresses;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Address} presented {Max} wrong secrets for {Target} within a minute: its secrets for it are refused (429) until a minute after its last wrong one; {Held} other(s) were barred since the last such line (PublishingPoint:MaxWrongSecretsPerMinute)")]
    private static partial void Log(ILogger logger, IPAddress address, int max, string target, long held);
}
