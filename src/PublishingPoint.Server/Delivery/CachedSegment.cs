namespace PublishingPoint.Server.Delivery;

/// <summary>
/// A segment in the <see cref="SegmentCache"/> as a kept answer names it: looked up at each replay, which restarts its
/// idle time as a request through the pipeline would, and <see cref="Gone"/> once the cache let the entry last found go,
/// so the answer store drops the answer at its next sweep instead of keeping it until the store is full.
/// </summary>
internal sealed class CachedSegment(SegmentCache cache, object key)
{
    // The cache's entry last found (a segment evicted and made again is another entry); not the entry itself, which
    // may keep its bytes until the collector takes it.
    private SegmentCache.Presence? _presence;

    public ReadySegment? TryGet()
    {
        if (!cache.TryGetReady(key, out var segment, out var presence))
        {
            return null;
        }

        // Written only when it changed: every replay of a popular segment reads it, from both event threads.
        if (!ReferenceEquals(Volatile.Read(ref _presence), presence))
        {
            Volatile.Write(ref _presence, presence);
        }

        return segment;
    }

    /// <summary>Notes the entry the cache holds now (when the answer is kept); false when it holds none.</summary>
    public bool Seen()
    {
        if (cache.PresenceOf(key) is not { } presence)
        {
            return false;
        }

        Volatile.Write(ref _presence, presence);
        return true;
    }

    public bool Gone => Volatile.Read(ref _presence) is { Evicted: true };
}
