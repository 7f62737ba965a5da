namespace PublishingPoint.Server.Points;

/// <summary>
/// Bounds the fragment bytes the index keeps in memory (each track's newest fragment, and the memory window), per
/// point and per server. Ingest bounds what a connection holds before indexing; without this an encoder holding a
/// point's secret could leave a 64 MB fragment as the newest of each of hundreds of tracks. Past a bound the oldest
/// kept bytes go first, then the newest fragments': those are read from the archive from then on (as the older DVR
/// window always is), and their sample tables stay, so no render reads the archive for them on an event thread; but a
/// table over <see cref="FragmentEntry.FreeTableBytes"/> counts with the bytes and goes with them (no real fragment
/// has one: a fragment of 1-byte samples keeps 32 times its bytes in table).
/// </summary>
public sealed class FragmentMemory(long maxPerPoint, long maxPerServer)
{
    private readonly Lock _shedding = new();
    private long _bytes;

    /// <summary>Unbounded: for a point made outside a registry (tests).</summary>
    public static FragmentMemory Unbounded { get; } = new(long.MaxValue, long.MaxValue);

    /// <summary>Fragment bytes the index keeps in memory now, over every point.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    internal void Add(long delta) => Interlocked.Add(ref _bytes, delta);

    /// <summary>Keeps <paramref name="point"/> (which just indexed a fragment) and the server within their bounds.</summary>
    public void Bound(Point point, PointRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(point);
        ArgumentNullException.ThrowIfNull(registry);
        if (point.Retired)
        {
            // Indexed as it was deleted: nothing will evict these bytes, and no one will read them.
            point.DropKeptBytes(long.MaxValue, wait: true);
        }
        else if (point.KeptBytes.Bytes > maxPerPoint)
        {
            point.DropKeptBytes(point.KeptBytes.Bytes - maxPerPoint, wait: true);
        }

        // One ingest sheds for the server at a time (the others go on); a point busy under its own lock (writing its
        // 'mfra', moving its files) is passed over, not waited for: that would hold every point's ingest.
        if (Bytes <= maxPerServer || !_shedding.TryEnter())
        {
            return;
        }

        try
        {
            foreach (var heavy in registry.All.OrderByDescending(p => p.KeptBytes.Bytes))
            {
                if (Bytes <= maxPerServer || heavy.KeptBytes.Bytes == 0)
                {
                    break;
                }

                heavy.DropKeptBytes(Bytes - maxPerServer, wait: false);
            }
        }
        finally
        {
            _shedding.Exit();
        }
    }
}

/// <summary>The fragment bytes one point's index keeps in memory, counted into the server's <see cref="FragmentMemory"/>.</summary>
public sealed class KeptFragmentBytes(FragmentMemory server)
{
    private long _bytes;

    public long Bytes => Interlocked.Read(ref _bytes);

    internal void Add(long delta)
    {
        Interlocked.Add(ref _bytes, delta);
        server.Add(delta);
    }
}
