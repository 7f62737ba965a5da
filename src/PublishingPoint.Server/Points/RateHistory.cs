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
/// manifest, playlist or MPD in the last 30 s (at most 10,000 remembered), and the bytes of every answer as a rate.
/// </summary>
public sealed class Audience
{
    private const int MaxClients = 10_000;
    private static readonly TimeSpan _active = TimeSpan.FromSeconds(30);
    private readonly Lock _lock = new();
    private readonly Dictionary<UInt128, DateTimeOffset> _seen = [];
    // When full: no sweep for stale clients before the oldest remembered one can have become stale, so a flood of new
    // addresses costs a lookup each, not a walk of all 10,000.
    private DateTimeOffset _nextSweep;

    public RateHistory Egress { get; } = new();

    public void Saw(System.Net.IPAddress client, DateTimeOffset now)
    {
        var key = Configuration.ClientNetwork.Key(client);
        lock (_lock)
        {
            if (_seen.Count >= MaxClients && !_seen.ContainsKey(key))
            {
                if (now < _nextSweep)
                {
                    return;
                }

                var cutoff = now - _active;
                var oldest = DateTimeOffset.MaxValue;
                foreach (var (seen, at) in _seen)
                {
                    if (at < cutoff)
                    {
                        _seen.Remove(seen);
                    }
                    else if (at < oldest)
                    {
                        oldest = at;
                    }
                }

                if (_seen.Count >= MaxClients)
                {
                    _nextSweep = oldest + _active;
                    return;
                }
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
}
