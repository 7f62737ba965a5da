namespace PublishingPoint.Server.Points;

/// <summary>
/// Bytes counted into fixed time slots (5 s, the last 5 minutes), for a sparkline of a rate: bounded whatever the
/// traffic, written by many threads, read by the API.
/// </summary>
public sealed class RateHistory
{
    public const int SlotSeconds = 5;
    public const int Slots = 60;

    private readonly long[] _bytes = new long[Slots];
    private readonly long[] _slot = new long[Slots];

    public void Add(long bytes, DateTimeOffset now)
    {
        var slot = now.ToUnixTimeSeconds() / SlotSeconds;
        var at = (int)(slot % Slots);
        if (Interlocked.Exchange(ref _slot[at], slot) != slot)
        {
            Interlocked.Exchange(ref _bytes[at], 0);
        }

        Interlocked.Add(ref _bytes[at], bytes);
    }

    /// <summary>Bits per second of each slot of the last <see cref="Slots"/>, oldest first, ending with the slot before now (a complete one).</summary>
    public int[] BitsPerSecond(DateTimeOffset now)
    {
        var current = now.ToUnixTimeSeconds() / SlotSeconds;
        var rates = new int[Slots];
        for (var i = 0; i < Slots; i++)
        {
            var slot = current - Slots + i;
            var at = (int)(((slot % Slots) + Slots) % Slots);
            rates[i] = Volatile.Read(ref _slot[at]) == slot ? (int)Math.Min(int.MaxValue, Volatile.Read(ref _bytes[at]) * 8 / SlotSeconds) : 0;
        }

        return rates;
    }
}

/// <summary>
/// Who watches a point and what it sends them: distinct clients (IPv4 addresses, IPv6 /64 networks) seen asking for a
/// manifest, playlist or MPD in the last 30 s (at most 10,000 remembered, and at most 64 /64s of one IPv6 /48, so one
/// site's address space, 65,536 /64s, cannot fill the count), and the bytes of every answer as a rate.
/// </summary>
public sealed class Audience
{
    private const int MaxClients = 10_000;
    internal const int MaxNetworksPerSite = 64;
    private static readonly TimeSpan _active = TimeSpan.FromSeconds(30);
    private readonly Lock _lock = new();
    private readonly Dictionary<UInt128, DateTimeOffset> _seen = [];
    private readonly Dictionary<ulong, int> _perSite = [];
    // Stale clients are dropped at most once every 30 s (a walk of at most 10,000), and when full not before the oldest
    // remembered one can have become stale, so a flood of new addresses costs a lookup each, not a walk each.
    private DateTimeOffset _nextSweep;

    public RateHistory Egress { get; } = new();

    public void Saw(System.Net.IPAddress client, DateTimeOffset now)
    {
        var key = Configuration.ClientNetwork.Key(client);
        lock (_lock)
        {
            ref var seen = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(_seen, key);
            if (!System.Runtime.CompilerServices.Unsafe.IsNullRef(ref seen))
            {
                seen = now;
                return;
            }

            if (now >= _nextSweep)
            {
                _nextSweep = Sweep(now) is { } oldest && _seen.Count >= MaxClients ? oldest + _active : now + _active;
            }

            if (_seen.Count >= MaxClients)
            {
                return;
            }

            if (Site(key) is { } site)
            {
                _perSite.TryGetValue(site, out var networks);
                if (networks >= MaxNetworksPerSite)
                {
                    return;
                }

                _perSite[site] = networks + 1;
            }

            _seen[key] = now;
        }
    }

    public int Viewers(DateTimeOffset now)
    {
        var cutoff = now - _active;
        lock (_lock)
        {
            return _seen.Values.Count(at => at >= cutoff);
        }
    }

    // Drops the clients not seen for 30 s; returns when the oldest left was seen (null when none is left).
    private DateTimeOffset? Sweep(DateTimeOffset now)
    {
        var cutoff = now - _active;
        DateTimeOffset? oldest = null;
        foreach (var (key, at) in _seen)
        {
            if (at < cutoff)
            {
                _seen.Remove(key);
                if (Site(key) is { } site && _perSite.TryGetValue(site, out var networks))
                {
                    if (networks > 1)
                    {
                        _perSite[site] = networks - 1;
                    }
                    else
                    {
                        _perSite.Remove(site);
                    }
                }
            }
            else if (oldest is null || at < oldest)
            {
                oldest = at;
            }
        }

        return oldest;
    }

    // An IPv6 key's /48 (the high 48 bits of its /64); null for IPv4, whose keys have a zero high half.
    private static ulong? Site(UInt128 key) => (ulong)(key >> 64) is var high and not 0 ? high >> 16 : null;
}
